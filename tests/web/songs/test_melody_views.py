"""A stored song's tune on the site: /song/<id>.mid, .kar and .abc, the tune in the API
and on the page, its caching, and the melody version stored with the song."""

from __future__ import annotations

import html
import io
import json
import re
import tarfile

import mido
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.melody import MELODY_VERSION
from billion_songs.core.melody.kar import lyric_events
from billion_songs.core.song import MAX_SONG_ID
from billion_songs.core.song import Song as GeneratedSong
from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.http import abcjs

pytestmark = pytest.mark.django_db


def store(song_id: int, **changes) -> Song:
    song = FakeLyricsGenerator().generate([song_id])[0]
    return services.song_store(song=GeneratedSong(**{**song.__dict__, **changes}))


def midi(response) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(response.content))


def page_words(body: str) -> list[str]:
    """The words of the page's lyrics, as a visitor reads them."""
    lyrics = body.split('<div class="lyrics">', 1)[1].split("</div>", 1)[0]
    lyrics = re.sub(r"<h2[^>]*>.*?</h2>", " ", lyrics)  # stanza captions are not sung
    return html.unescape(re.sub(r"<[^>]+>", " ", lyrics)).split()


def test_midi_holds_melody_chords_tempo_key_and_time_signature(client, songs_runtime):
    song = store(12345)
    response = client.get("/song/12345.mid")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/midi"
    assert response["Content-Disposition"] == 'attachment; filename="song-12345.mid"'
    tune = json.loads(client.get("/api/songs/12345").content)["melody"]
    file = midi(response)
    names = [track.name for track in file.tracks]
    assert "Melody" in names and "Chords" in names
    messages = [m for track in file.tracks for m in track]
    tempo = next(m for m in messages if m.type == "set_tempo")
    assert round(mido.tempo2bpm(tempo.tempo)) == tune["tempo"]
    key = next(m for m in messages if m.type == "key_signature")
    assert key.key == tune["key"] + ("m" if tune["mode"] == "minor" else "")
    meter = next(m for m in messages if m.type == "time_signature")
    assert f"{meter.numerator}/{meter.denominator}" == tune["time_signature"]
    melody = file.tracks[names.index("Melody")]
    sung = [m.note for m in melody if m.type == "note_on" and m.velocity > 0]
    assert sung == [n["pitch"] for n in tune["notes"]]
    chords = [m for m in file.tracks[names.index("Chords")] if m.type == "note_on" and m.velocity > 0]
    assert len(chords) >= 3 * len(tune["chords"]) > 0
    assert song.melody_version == MELODY_VERSION


def test_kar_has_one_lyric_event_per_syllable_in_the_order_of_the_page(client, songs_runtime):
    store(777)
    page = client.get("/song/777").content.decode()
    kar = client.get("/song/777.kar")
    assert kar.status_code == 200 and kar["Content-Type"] == "audio/midi"
    assert kar["Content-Disposition"] == 'attachment; filename="song-777.kar"'
    assert midi(kar).tracks[1].name == "Words"
    events = lyric_events(kar.content)
    tune = json.loads(client.get("/api/songs/777").content)["melody"]
    assert len(events) == len(tune["notes"])  # one event per sung syllable
    assert [e.lstrip("\\/ ") for e in events] == [n["syllable"] for n in tune["notes"]]
    # Joined as a karaoke player joins them, they are the page's lyrics, word for word.
    sung_words = "".join(e.replace("\\", " ").replace("/", " ") for e in events).split()
    assert sung_words == page_words(page)
    assert len(sung_words) > 20
    # Each note carries the number of its word in the page's lyrics, for the player's
    # highlighting: every word, in reading order, one or more notes each.
    data = json.loads(re.search(r'<script id="tune-data" type="application/json">(.*?)</script>', page).group(1))
    assert data["words"] == len(sung_words)
    numbers = [note[3] for note in data["notes"]]
    assert sorted(set(numbers)) == list(range(len(sung_words))) and numbers == sorted(numbers)
    assert [note[0] for note in data["notes"]] == [n["pitch"] for n in tune["notes"]]


def test_abc_download_and_the_page_show_the_same_tune(client, songs_runtime):
    song = store(4242)
    abc = client.get("/song/4242.abc")
    assert abc.status_code == 200
    assert abc["Content-Type"].startswith("text/vnd.abc")
    text = abc.content.decode()
    assert text.startswith("X:1\n") and f"T:{song.title}" in text and "\nw: " in text
    page = client.get("/song/4242").content.decode()
    shown = re.search(r"<pre data-abc>(.*?)</pre>", page, re.DOTALL).group(1)
    assert html.unescape(shown) == text  # on the page, for visitors without JavaScript or abcjs
    for path in ("/song/4242.mid", "/song/4242.kar", "/song/4242.abc"):
        assert f'href="{path}"' in page
    assert 'id="tune-data" type="application/json"' in page
    assert 'src="/static/songs/melody.js"' in page
    assert "onclick" not in page


def test_api_has_key_tempo_time_signature_and_notes(client, songs_runtime):
    store(99)
    document = json.loads(client.get("/api/songs/99").content)
    tune = document["melody"]
    assert tune["version"] == MELODY_VERSION
    assert tune["mode"] in ("major", "minor") and tune["key"][0] in "ABCDEFG"
    assert 40 <= tune["tempo"] <= 200
    assert tune["time_signature"] in ("4/4", "3/4", "6/8")
    first = tune["notes"][0]
    assert {"pitch", "start", "duration", "syllable"} <= set(first)
    starts = [n["start"] for n in tune["notes"]]
    assert starts == sorted(starts) and all(n["duration"] > 0 for n in tune["notes"])


def test_downloads_are_cached_publicly_with_an_etag_like_the_page(client, songs_runtime, django_assert_num_queries):
    store(5)
    page = client.get("/song/5")
    for kind in ("mid", "kar", "abc"):
        first = client.get(f"/song/5.{kind}")
        assert first["Cache-Control"] == page["Cache-Control"]
        assert "public" in first["Cache-Control"] and "max-age" in first["Cache-Control"]
        etag = first["ETag"]
        assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
        with django_assert_num_queries(0):  # from the cache: no database
            again = client.get(f"/song/5.{kind}")
            unchanged = client.get(f"/song/5.{kind}", HTTP_IF_NONE_MATCH=etag)
        assert again.content == first.content and again["ETag"] == etag
        assert unchanged.status_code == 304 and unchanged["ETag"] == etag
        assert "Cookie" not in unchanged.get("Vary", "") and not first.cookies


@pytest.mark.parametrize("path", [
    "/song/31337.mid",  # a valid id never written: downloads never write a song
    "/song/012.kar",  # a second spelling of 12
    f"/song/{MAX_SONG_ID + 1}.mid",  # out of range
    "/song/-1.abc", "/song/abc.mid", "/song/12.midi", "/song/12.mid/", "/song/12.MID",
])
def test_not_a_tune_is_a_404_page(client, songs_runtime, path):
    store(12)
    response = client.get(path)
    assert response.status_code == 404
    assert b"Traceback" not in response.content
    assert Song.objects.filter(pk=31337).count() == 0


def test_a_failed_song_has_no_tune(client, songs_runtime):
    store(66, ok=False, title="", lyrics="")
    assert client.get("/song/66.mid").status_code == 404
    assert json.loads(client.get("/api/songs/66").content)["melody"] is None
    assert b"data-tune" not in client.get("/song/66").content


def test_a_hidden_song_tune_is_gone_at_once(client, songs_runtime, django_capture_on_commit_callbacks):
    store(8)
    assert client.get("/song/8.kar").status_code == 200  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        services.songs_hide(song_ids=[8])
    for kind in ("mid", "kar", "abc"):
        response = client.get(f"/song/8.{kind}")
        assert response.status_code == 410 and b"removed" in response.content
    with django_capture_on_commit_callbacks(execute=True):
        services.songs_hide(song_ids=[8], hidden=False)
    assert client.get("/song/8.kar").status_code == 200


def test_the_melody_version_is_stored_with_the_song_and_kept(client, songs_runtime):
    assert store(3).melody_version == MELODY_VERSION
    # A song whose tune came from a melody model this build does not ship keeps no tune
    # rather than getting another one.
    Song.objects.filter(pk=3).update(melody_version="some-later-model-9")
    assert client.get("/song/3.mid").status_code == 404
    assert json.loads(client.get("/api/songs/3").content)["melody"] is None
    page = client.get("/song/3").content
    assert b"data-tune" not in page and b'class="lyrics"' in page


@pytest.mark.django_db(transaction=True)
def test_a_song_stored_before_melodies_gets_a_tune(client, songs_runtime):
    """Migrate back to before melody_version, store a song as the old schema did, migrate
    forward: the song has the melody version and a tune."""
    executor = MigrationExecutor(connection)
    executor.migrate([("songs", "0004_song_brief_sections")])
    old = FakeLyricsGenerator().generate([2024])[0]
    apps = executor.loader.project_state([("songs", "0004_song_brief_sections")]).apps
    apps.get_model("songs", "Song").objects.create(
        id=old.id, title=old.title, lyrics=old.lyrics, model_version=old.model_version,
        genre=old.brief.genre, mood=old.brief.mood, topic=old.brief.topic, form=old.brief.form,
        sections=" ".join(old.form))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Song.objects.get(pk=2024).melody_version == MELODY_VERSION
    kar = client.get("/song/2024.kar")
    assert kar.status_code == 200 and len(lyric_events(kar.content)) > 20
    assert b"data-tune" in client.get("/song/2024").content


def test_abcjs_is_served_from_the_cache_directory(client, songs_runtime, monkeypatch, tmp_path):
    monkeypatch.setenv("BILLION_SONGS_CACHE", str(tmp_path))
    abcjs.forget()
    try:
        cached = abcjs.cached_path()
        cached.parent.mkdir(parents=True)
        cached.write_bytes(b"/* a build fetched earlier */")
        response = client.get(f"/melody/abcjs-{abcjs.VERSION}.min.js")
        assert response.status_code == 200 and response.content == b"/* a build fetched earlier */"
        assert response["Content-Type"].startswith("text/javascript")
        assert "immutable" in response["Cache-Control"] and "public" in response["Cache-Control"]
        assert client.get(f"/melody/abcjs-{abcjs.VERSION}.min.js",
                          HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    finally:
        abcjs.forget()


def test_a_tarball_that_fails_its_integrity_check_is_refused(client, songs_runtime, monkeypatch, tmp_path,
                                                               settings):
    """A registry (here a directory) serving other bytes under abcjs' name: nothing is
    kept or served, and the song page still has its ABC text."""
    registry = tmp_path / "registry"
    (registry / "abcjs" / "-").mkdir(parents=True)
    payload = b"window.ABCJS = 'not the real one';"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo(abcjs.MEMBER)
        member.size = len(payload)
        archive.addfile(member, io.BytesIO(payload))
    (registry / "abcjs" / "-" / f"abcjs-{abcjs.VERSION}.tgz").write_bytes(buffer.getvalue())
    settings.NPM_REGISTRY = registry.as_uri()
    monkeypatch.setenv("BILLION_SONGS_CACHE", str(tmp_path / "cache"))
    abcjs.forget()
    try:
        response = client.get(f"/melody/abcjs-{abcjs.VERSION}.min.js")
        assert response.status_code == 404 and response["Cache-Control"] == "no-store"
        assert not abcjs.cached_path().exists()
        store(21)
        assert b"<pre data-abc>X:1" in client.get("/song/21").content
    finally:
        abcjs.forget()
