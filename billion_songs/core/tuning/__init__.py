"""Tuning a lyrics model: data preparation first (`prepare_dataset`), then training.

One concept per module: csv_songs (reading any lyrics CSV), cleaning, tokenizing,
chunking, dataset (the on-disk format, written atomically) and prepare (the pipeline).
"""

from billion_songs.core.tuning.csv_songs import BadRow, CsvSongs, RawSong, read_songs
from billion_songs.core.tuning.dataset import PreparedDataset, TokenChunks, load_prepared
from billion_songs.core.tuning.errors import PrepareError
from billion_songs.core.tuning.prepare import PrepareConfig, PrepareSummary, prepare_dataset
from billion_songs.core.tuning.tokenizing import SongTokenizer, load_tokenizer

__all__ = [
    "BadRow",
    "CsvSongs",
    "PrepareConfig",
    "PrepareError",
    "PrepareSummary",
    "PreparedDataset",
    "RawSong",
    "SongTokenizer",
    "TokenChunks",
    "load_prepared",
    "load_tokenizer",
    "prepare_dataset",
    "read_songs",
]
