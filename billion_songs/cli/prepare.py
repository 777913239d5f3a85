"""`billion-songs prepare`: a lyrics CSV to token chunks for `billion-songs train`."""

from __future__ import annotations

from pathlib import Path

import click

from billion_songs.core.tuning.chunking import LONG_SONG_POLICIES
from billion_songs.core.tuning.errors import PrepareError
from billion_songs.core.tuning.prepare import PrepareConfig, PrepareSummary, prepare_dataset

DEFAULTS = PrepareConfig()
DEFAULT_OUT = Path("data/prepared")
BAD_ROWS_SHOWN = 20  # the rest are in meta.json


@click.command()
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(path_type=Path))
@click.option(
    "--lyrics-column", metavar="C", help="Column with the lyrics [default: lyrics, lyric or text, any case]."
)
@click.option(
    "--title-column",
    metavar="C",
    help="Column with the title [default: title, song, song_name or name, any case].",
)
@click.option(
    "--out",
    "out_dir",
    metavar="DIR",
    type=click.Path(path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Directory to write (replaced atomically if it holds an earlier prepared dataset).",
)
@click.option(
    "--tokenizer",
    default=DEFAULTS.tokenizer,
    show_default=True,
    help='"gpt2" (GPT-2\'s BPE) or a local directory with a Hugging Face tokenizer.',
)
@click.option(
    "--block-size",
    type=click.IntRange(min=8),
    default=DEFAULTS.block_size,
    show_default=True,
    help="Token budget per chunk.",
)
@click.option(
    "--val-fraction",
    type=click.FloatRange(0, 1, max_open=True),
    default=DEFAULTS.val_fraction,
    show_default=True,
    help="Share of songs held out for validation.",
)
@click.option(
    "--seed", type=int, default=DEFAULTS.seed, show_default=True, help="Seed of the train/validation split."
)
@click.option(
    "--long-songs",
    type=click.Choice(LONG_SONG_POLICIES),
    default=DEFAULTS.long_songs,
    show_default=True,
    help="A song longer than a chunk: split it into chunk-sized pieces, or skip it (counted either way).",
)
@click.option("--keep-untitled", is_flag=True, help="Keep songs without a title (skipped by default).")
@click.option("--encoding", default=DEFAULTS.encoding, show_default=True, help="Text encoding of the CSV.")
def prepare(csv_file: Path, out_dir: Path, **options) -> None:
    """Read a CSV of songs, clean it and write token chunks for `train`.

    Each song becomes <|startoftitle|>TITLE, a newline, the lyrics and <|endoftext|>;
    songs are bundled into chunks of at most --block-size tokens. Malformed rows are
    reported with their line numbers and skipped.
    """
    config = PrepareConfig(**options)
    try:
        summary = prepare_dataset(
            csv_file, out_dir, config, progress=lambda m: click.echo(f"{m}...", err=True)
        )
    except PrepareError as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(
            f"{error.filename or ''}: {error.strerror or error}".lstrip(": ")
        ) from None
    click.echo(format_summary(summary))


def format_summary(summary: PrepareSummary) -> str:
    """The report printed at the end of a run."""
    lines = [
        (
            f"Read {summary.source}: {summary.rows_read:,} rows "
            f"(title column {summary.columns.title!r}, lyrics column {summary.columns.lyrics!r})"
        ),
        f"Bad rows: {len(summary.bad_rows):,}" + (" (skipped)" if summary.bad_rows else ""),
    ]
    for row in summary.bad_rows[:BAD_ROWS_SHOWN]:
        lines.append(f"  {row.where()}: {row.reason}")
    if len(summary.bad_rows) > BAD_ROWS_SHOWN:
        lines.append(f"  ... and {len(summary.bad_rows) - BAD_ROWS_SHOWN:,} more (listed in meta.json)")
    lines.append(f"Songs kept: {summary.songs_kept:,}")
    skipped = ", ".join(f"{count:,} {reason}" for reason, count in sorted(summary.skipped.items()))
    lines.append(f"Skipped: {skipped or 'none'}")
    if summary.long_split:
        lines.append(f"Split (longer than {summary.block_size} tokens): {_count(summary.long_split, 'song')}")
    for name, split in (("Train", summary.train), ("Val", summary.val)):
        lines.append(
            f"{name + ':':6} {_count(split.songs, 'song')}, {_count(split.tokens, 'token')}, "
            f"{_count(split.chunks, 'chunk')}"
        )
    ids = ", ".join(f"{token}={token_id}" for token, token_id in summary.special_token_ids.items())
    lines.append(
        f"Tokenizer: {summary.tokenizer['source']} ({summary.tokenizer['vocab_size']:,} ids; {ids}); "
        f"block size {summary.block_size}"
    )
    lines.extend(f"Warning: {warning}" for warning in summary.warnings)
    lines.append(f"{'Replaced' if summary.replaced else 'Wrote'} {summary.out_dir}")
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")
