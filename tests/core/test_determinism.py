"""The determinism contract on a tiny GPT-2, for both decoders: song(id) is the same across
batch sizes, batch composition (for the songwriting decoder: which songs and candidate
lines share the batch), the streaming path, processes and thread counts."""

import json
import os
import random
import subprocess
import sys

import pytest

from billion_songs.core.interface import Finished, Restart, TextDelta
from billion_songs.core.loader import load_generator

IDS = [0, 1, 2, 3, 41, 2**32, 2**63, 2**64 - 2, 2**64 - 1]


@pytest.fixture(scope="module", params=["song", "free"])
def generator(request, tiny_gpt2_dir, tmp_path_factory):
    os.environ["BILLION_SONGS_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    return load_generator(str(tiny_gpt2_dir), decoder=request.param)


def test_prompts_differ_in_length_so_batches_really_mix(generator):
    assert len({len(generator.prompt(i)) for i in IDS}) > 1


def test_same_songs_at_batch_sizes_1_8_32(generator):
    results = []
    for size in (1, 8, 32):
        generator.max_batch_size = size
        results.append(generator.generate(IDS))
    generator.max_batch_size = 32
    assert results[0] == results[1] == results[2]
    assert len({s.title for s in results[0]}) == len(IDS)  # and the songs differ from each other


def test_every_token_is_the_same_batched_and_alone(generator):
    """Below the cleaned text: the raw tokens of whole 256-token attempts (free-form
    decoder; the songwriting decoder's rows are checked in engine/test_row_cache.py)."""
    from billion_songs.core.decode import decode_batch

    if generator.songwriting:
        pytest.skip("the free-form decoder's batches")
    def raw(ids):
        rows = decode_batch(generator.loaded.model, [generator.prompt(i) for i in ids], ids, 0,
                            generator.settings, generator.loaded.manifest.end_token_ids, prefix=generator._prefix)
        return [r.token_ids for r in rows]

    same_length = [i for i in range(200) if len(generator.prompt(i)) == len(generator.prompt(0))][:8]
    together = raw(same_length)
    assert all(len(t) == generator.settings.max_new_tokens for t in together)
    for song_id, tokens in zip(same_length, together):
        assert raw([song_id])[0] == tokens


def test_same_songs_whatever_else_is_in_the_batch(generator):
    reference = {s.id: s for s in generator.generate(IDS)}
    shuffled = IDS + [5, 6, 7, 10**12]
    random.Random(4).shuffle(shuffled)
    for song in generator.generate(shuffled):
        if song.id in reference:
            assert song == reference[song.id]
    assert generator.generate([IDS[4], IDS[4]]) == [reference[IDS[4]]] * 2


def test_streaming_writes_the_same_song(generator):
    for song_id in (0, 2**64 - 1):
        events = list(generator.stream(song_id))
        assert isinstance(events[-1], Finished)
        assert events[-1].song == generator.generate([song_id])[0]
        attempt_text = ""
        for event in events[:-1]:
            assert isinstance(event, (TextDelta, Restart))
            attempt_text = "" if isinstance(event, Restart) else attempt_text + event.text
        assert attempt_text  # the last attempt was streamed piece by piece


def test_retries_are_a_pure_function_of_the_id(generator):
    songs = generator.generate(IDS)
    if not generator.songwriting:
        # A random-weight model writes gibberish: the guards reject it and retry with new sub-seeds.
        assert all(s.attempts == generator.settings.max_attempts and s.rejected for s in songs)
    assert generator.generate(IDS[:2]) == songs[:2]
    assert generator.generate(IDS[::-1]) == songs[::-1]


def _cli_songs(model_dir, cache, threads, omp, decoder):
    env = {**os.environ, "OMP_NUM_THREADS": str(omp), "BILLION_SONGS_CACHE": str(cache)}
    out = subprocess.run(
        [sys.executable, "-m", "billion_songs", "songs", "--from", str(2**64 - 3), "--count", "3",
         "--batch-size", "2", "--json", "--model", str(model_dir), "--threads", str(threads), "--decoder", decoder],
        capture_output=True, text=True, env=env, check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_same_songs_across_processes_and_thread_counts(tiny_gpt2_dir, generator, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "cache"
    decoder = generator.settings.decoder
    one = _cli_songs(tiny_gpt2_dir, cache, threads=1, omp=1, decoder=decoder)
    two = _cli_songs(tiny_gpt2_dir, cache, threads=2, omp=2, decoder=decoder)
    assert one == two
    here = generator.generate([2**64 - 3, 2**64 - 2, 2**64 - 1])
    assert one == [s.as_dict() for s in here]
