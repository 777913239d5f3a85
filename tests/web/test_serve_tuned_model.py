"""Issue 5's last step: a model tuned from a CSV is exported and served by the site, under
a model_version of its own, while songs stored under an older model stay as they were."""

import json

import pytest
from asgiref.sync import async_to_sync

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.loader import load_generator
from billion_songs.core.tuning.export import export_model
from billion_songs.core.tuning.train import train
from billion_songs.web.songs.data import services
from billion_songs.web.songs.runtime import web as runtime
from tests.model_fixtures import isolated_cache, tiny_gpt2_dir  # noqa: F401
from tests.tuning_fixtures import one_thread, prepared_dir, small_config  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tuned_engine_dir(prepared_dir, tiny_gpt2_dir, tmp_path_factory):  # noqa: F811
    """prepare (a generated CSV) -> train a few LoRA steps on a tiny GPT-2 -> export."""
    run = tmp_path_factory.mktemp("runs") / "tiny-tuned"
    train(small_config(prepared_dir, run, tiny_gpt2_dir, max_steps=3), progress=False, say=lambda m: None)
    out = tmp_path_factory.mktemp("models") / "tiny-tuned"
    export_model(run, out)
    return out


@pytest.fixture
def tuned_runtime(tuned_engine_dir):
    built = runtime.Runtime.build(load_generator(str(tuned_engine_dir)))
    runtime.install(built)
    yield built
    built.stop()
    runtime.install(None)


@pytest.mark.django_db(transaction=True)
def test_the_site_serves_the_tuned_model_and_keeps_older_songs(client, tuned_runtime):
    older = FakeLyricsGenerator(model_version="older-model-1").generate([8])[0]
    services.song_store(song=older)

    fresh = json.loads(client.get("/api/songs/7").content)
    expected = tuned_runtime.generator.generate([7])[0]
    assert fresh["model_version"] == tuned_runtime.generator.model_version
    assert fresh["model_version"].startswith("tiny-tuned-")
    assert (fresh["title"], fresh["lyrics"]) == (expected.title, expected.lyrics)

    kept = json.loads(client.get("/api/songs/8").content)
    assert (kept["model_version"], kept["title"], kept["lyrics"]) == ("older-model-1", older.title, older.lyrics)
    page = client.get("/song/8")
    assert page.status_code == 200 and older.title.encode() in page.content


def _first_visit(client, generator, song_id):
    """The chunks of the writing page of a never-seen id, and the song it must end with."""
    expected = generator.generate([song_id])[0]
    response = client.get(f"/song/{song_id}")

    async def read_all():
        return [chunk.decode() async for chunk in response.streaming_content]

    return async_to_sync(read_all)(), expected


@pytest.mark.django_db(transaction=True)
def test_a_first_visit_streams_the_song_line_by_line(client, tuned_runtime):
    """The songwriting decoder through the site: the writing page streams the title and
    then the lines, each as it is chosen."""
    chunks, expected = _first_visit(client, tuned_runtime.generator, 9)
    written = "".join(chunks)
    for line in [expected.title, *expected.lyrics.split("\n")]:
        assert line.replace("'", "&#x27;") in written
    assert len([c for c in chunks if c.strip()]) >= 1 + len({line for line in expected.lyrics.split("\n") if line})


@pytest.mark.embedded
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_embedded_default_song_page_shows_its_form_and_brief(client):
    """On the real default model a song keeps the contract, so its page shows the form: a
    caption per stanza, the chorus as often as the form sings it, the brief as tags."""
    built = runtime.Runtime.build(load_generator("embedded"))
    runtime.install(built)
    try:
        chunks, expected = _first_visit(client, built.generator, 1234)
        assert expected.ok, expected.rejected
        page = client.get("/song/1234").content.decode()
    finally:
        built.stop()
        runtime.install(None)
    assert expected.title in "".join(chunks)
    assert page.count(">Chorus<") == sum(kind == "chorus" for kind in expected.form) >= 2
    assert page.count(">Verse<") == sum(kind == "verse" for kind in expected.form) >= 2
    assert f">{expected.brief.mood}</a>" in page and expected.brief.topic.replace("'", "&#x27;") in page
