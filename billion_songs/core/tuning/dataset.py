"""The prepared-dataset directory: written atomically by `prepare`, read by `train`.

    DIR/
      meta.json            what was prepared from what (see prepare.py), FORMAT_VERSION
      train.tokens.npy     (n_tokens,) uint16/uint32 token ids, chunks back to back
      train.offsets.npy    (n_chunks + 1,) int64 chunk boundaries into train.tokens.npy
      val.tokens.npy       the same for the validation split
      val.offsets.npy
      tokenizer/           the tokenizer with both markers (AutoTokenizer.from_pretrained)

The whole directory is built under a temporary name next to DIR and renamed into place
when complete, so a crash or Ctrl-C never leaves a half-written dataset at DIR.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from billion_songs.core import atomic
from billion_songs.core.tuning.chunking import Chunks
from billion_songs.core.tuning.errors import PrepareError

FORMAT_VERSION = 1
META = "meta.json"
TOKENIZER_DIR = "tokenizer"
SPLITS = ("train", "val")


@dataclass
class TokenChunks:
    """One split of a prepared dataset: chunk i is tokens[offsets[i]:offsets[i + 1]]."""

    tokens: np.ndarray  # (n_tokens,) memory-mapped
    offsets: np.ndarray  # (n_chunks + 1,) int64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        return self.tokens[self.offsets[index] : self.offsets[index + 1]]


@dataclass
class PreparedDataset:
    directory: Path
    meta: dict
    train: TokenChunks
    val: TokenChunks

    @property
    def tokenizer_dir(self) -> Path:
        return self.directory / TOKENIZER_DIR


def load_prepared(directory: str | Path) -> PreparedDataset:
    """Open a directory written by `prepare` (token arrays are memory-mapped)."""
    directory = Path(directory)
    try:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PrepareError(
            f"{directory} is not a prepared dataset (no {META}); run `billion-songs prepare`"
        ) from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise PrepareError(
            f"{directory} has dataset format {meta.get('format_version')!r}, this version reads "
            f"{FORMAT_VERSION}; prepare it again"
        )
    splits = {
        name: TokenChunks(
            tokens=np.load(directory / f"{name}.tokens.npy", mmap_mode="r"),
            offsets=np.load(directory / f"{name}.offsets.npy"),
        )
        for name in SPLITS
    }
    return PreparedDataset(directory, meta, splits["train"], splits["val"])


def check_output_dir(out_dir: Path) -> None:
    """Refuse, before any work, to write over anything but an empty directory or an
    earlier prepared dataset."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise PrepareError(f"--out {out_dir} exists and is not a directory")
    if any(out_dir.iterdir()) and not (out_dir / META).is_file():
        raise PrepareError(
            f"--out {out_dir} is a non-empty directory that is not a prepared dataset; "
            "choose another directory"
        )


def write_split(directory: Path, name: str, chunks: Chunks) -> None:
    np.save(directory / f"{name}.tokens.npy", chunks.tokens)
    np.save(directory / f"{name}.offsets.npy", chunks.offsets)


def write_meta(directory: Path, meta: dict) -> None:
    text = json.dumps({"format_version": FORMAT_VERSION, **meta}, indent=2, ensure_ascii=False)
    (directory / META).write_text(text + "\n", encoding="utf-8")


def atomic_directory(final: Path) -> contextlib.AbstractContextManager[Path]:
    """Yield an empty temporary directory beside `final`; on success it replaces `final`
    (an earlier dataset there is removed only after the new one is in place), on any
    error or interrupt it is deleted and `final` is left as it was. `final` must be empty,
    absent or an earlier prepared dataset, checked before and after the work."""
    return atomic.atomic_directory(Path(final), check=check_output_dir)
