"""Directories that appear whole or not at all (datasets, checkpoints, models).

Everything is written into a hidden sibling directory, flushed to disk, then renamed into
place. A directory already there is first moved aside into another hidden sibling (so a
crash between the two renames leaves the old one recoverable), then removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path


def fresh_sibling(final: Path, purpose: str) -> Path:
    """A new hidden directory next to `final` (same file system, so renames are atomic),
    created with the user's umask, unlike tempfile.mkdtemp's private 0700."""
    while True:
        candidate = final.parent / f".{final.name}.{purpose}-{secrets.token_hex(4)}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue


def fsync_tree(root: Path) -> None:
    """Flush every file, and the directory, to disk before a rename makes them visible."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows: rename is still atomic, skip the fsyncs
        return
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def swap_into_place(staging: Path, final: Path) -> None:
    """Rename `staging` to `final`; an existing `final` goes aside first, then away."""
    if not final.exists():
        os.replace(staging, final)
        return
    if final.is_dir() and not any(final.iterdir()):
        final.rmdir()
        os.replace(staging, final)
        return
    old = fresh_sibling(final, "old")
    os.replace(final, old / final.name)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(final: Path, *, check: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a staging directory; on success it becomes `final`, on any error it is removed.
    `check(final)`, when given, runs before any work and again just before the swap (it
    raises to refuse a target that became unacceptable meanwhile)."""
    final = Path(final)
    if check is not None:
        check(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = fresh_sibling(final, "partial")
    try:
        yield staging
        fsync_tree(staging)
        if check is not None:
            check(final)  # again: something may have appeared while we worked
        swap_into_place(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
