"""Packing songs into chunks of at most block_size tokens."""

import random

import numpy as np
import pytest

from billion_songs.core.tuning.chunking import pack_songs, token_dtype


def song(n, start=0):
    """A fake tokenized song of n tokens with recognisable ids."""
    return list(range(start, start + n))


def chunk_sizes(chunks):
    return np.diff(chunks.offsets).tolist()


def test_songs_are_bundled_until_the_next_one_does_not_fit():
    chunks = pack_songs([song(3), song(3), song(3), song(2)], block_size=8)
    assert chunk_sizes(chunks) == [6, 5]  # 3+3 (a third would make 9), then 3+2


def test_a_song_that_does_not_fit_starts_the_next_chunk_and_is_never_dropped():
    songs = [song(5, 100), song(4, 200), song(7, 300), song(1, 400)]
    chunks = pack_songs(songs, block_size=8)
    assert chunk_sizes(chunks) == [5, 4, 8]
    assert chunks.tokens.tolist() == [t for s in songs for t in s]  # every token, in order
    assert chunks.chunk(1).tolist() == song(4, 200)  # whole songs: boundaries never cut one
    assert chunks.songs == 4


def test_a_song_of_exactly_block_size_fills_a_chunk():
    assert chunk_sizes(pack_songs([song(8), song(8), song(1)], block_size=8)) == [8, 8, 1]


def test_a_long_song_is_split_into_block_sized_pieces():
    songs = [song(5, 100), song(20, 200), song(3, 300)]
    chunks = pack_songs(songs, block_size=8)
    assert chunk_sizes(chunks) == [5, 8, 8, 7]  # the 4-token tail shares a chunk with the next song
    assert chunks.tokens.tolist() == [t for s in songs for t in s]
    assert (chunks.long_split, chunks.long_skipped, chunks.songs) == (1, 0, 3)


def test_a_long_song_of_whole_blocks_leaves_no_empty_chunk():
    assert chunk_sizes(pack_songs([song(16), song(2)], block_size=8)) == [8, 8, 2]


def test_a_long_song_can_be_skipped_instead():
    chunks = pack_songs([song(5, 100), song(20, 200), song(3, 300)], block_size=8, long_songs="skip")
    assert chunks.tokens.tolist() == song(5, 100) + song(3, 300)
    assert chunk_sizes(chunks) == [8]
    assert (chunks.long_split, chunks.long_skipped, chunks.songs) == (0, 1, 2)


@pytest.mark.parametrize("policy", ["split", "skip"])
def test_no_chunk_is_over_budget_or_empty_and_no_token_is_lost(policy):
    rng = random.Random(7)
    songs = [song(rng.randint(3, 40), 1000 * i) for i in range(300)]
    chunks = pack_songs(songs, block_size=32, long_songs=policy)
    sizes = chunk_sizes(chunks)
    assert all(0 < size <= 32 for size in sizes)
    kept = [s for s in songs if policy == "split" or len(s) <= 32]
    assert chunks.tokens.tolist() == [t for s in kept for t in s]


def test_nothing_to_pack():
    chunks = pack_songs([], block_size=8)
    assert chunks.n_chunks == 0 and len(chunks.tokens) == 0


def test_dtype_fits_the_vocabulary():
    assert token_dtype(50258) is np.uint16
    assert token_dtype(2**16 + 1) is np.uint32
    assert pack_songs([[65535]], 8, dtype=np.uint16).tokens.dtype == np.uint16


def test_bad_arguments():
    with pytest.raises(ValueError):
        pack_songs([song(2)], block_size=0)
    with pytest.raises(ValueError):
        pack_songs([song(2)], block_size=8, long_songs="truncate")
