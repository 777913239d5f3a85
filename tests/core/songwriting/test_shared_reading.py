"""The text a song reads between its lines (line breaks, section labels, the hook) is read
by one of its K rows and copied to the others, and a row that waits for its siblings is not
computed at all: the songs are the ones every row computing everything writes."""

import dataclasses

import pytest

from billion_songs.core.engine.attention import RowCache
from billion_songs.core.loader import load_generator
from billion_songs.core.songwriting.decoder import SongWriter

IDS = [3, 1000, 2**64 - 1]


def _songs(generator, ids):
    return [(s.title, s.lyrics, s.sections) for s in generator.generate(ids)]


def _counting_steps(model, monkeypatch):
    """Rows that took a token, over every step of a RowCache."""
    counted = {"rows": 0}
    forward = model.forward

    def counting(tokens, cache):
        if isinstance(cache, RowCache):
            counted["rows"] += int(cache.stepping.sum())
        return forward(tokens, cache)

    monkeypatch.setattr(model, "forward", counting)
    return counted


def test_shared_reading_writes_the_same_songs_on_a_tiny_model(tiny_gpt2_dir, monkeypatch):
    generator = load_generator(str(tiny_gpt2_dir), max_batch_size=3)
    generator.settings = dataclasses.replace(generator.settings, song_tokens=480)
    counted = _counting_steps(generator.loaded.model, monkeypatch)
    shared = _songs(generator, IDS)
    shared_rows = counted["rows"]
    monkeypatch.setattr(SongWriter, "share_reading", False)
    counted["rows"] = 0
    assert _songs(generator, IDS) == shared
    assert shared_rows < counted["rows"]  # the siblings did not read it again


@pytest.mark.embedded
@pytest.mark.slow
def test_shared_reading_and_skipped_waiting_rows_keep_the_embedded_models_songs(monkeypatch):
    """On the native step (where waiting rows are skipped) and the PyTorch path."""
    generator = load_generator("embedded")
    ids = [1000, 1001]
    shared = _songs(generator, ids)
    monkeypatch.setattr(SongWriter, "share_reading", False)
    assert _songs(generator, ids) == shared
    model = generator.loaded.model
    if model.native is not None:
        monkeypatch.setattr(model, "native", None)  # every row computed, waiting ones too
        assert _songs(generator, ids) == shared
