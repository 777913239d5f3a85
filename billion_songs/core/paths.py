"""Where the engine keeps what it downloads and converts."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """The user cache directory, or $BILLION_SONGS_CACHE (tests point it at a temp dir)."""
    override = os.environ.get("BILLION_SONGS_CACHE")
    path = Path(override) if override else Path(platformdirs.user_cache_dir("billion-songs"))
    path.mkdir(parents=True, exist_ok=True)
    return path
