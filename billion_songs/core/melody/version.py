"""The melody model's version: stored with a song's melody, as model_version is stored
with the song. Change MELODY_VERSION whenever the tables (data/) or the composer change
what any song sings; DATA_SHA256 pins the tables it was set for (tests/core/melody checks
it with data_digest, so new tables cannot ship under an old version)."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np

MELODY_VERSION = "essen-markov-1"
DATA_SHA256 = "8005a9ab53d284e443fe3f300218aadf8f31044feb6e6fe54439f30a23602eb9"
DATA_FILES = ("tables.npz", "copy_index.npz")


def data_digest() -> str:
    """sha256 over the arrays of the shipped tables (names and bytes, not the zip files,
    whose timestamps change with every build)."""
    digest = hashlib.sha256()
    for name in DATA_FILES:
        with resources.as_file(resources.files("billion_songs.core.melody") / "data" / name) as path, \
                np.load(path) as data:
            for key in sorted(data.files):
                digest.update(key.encode())
                digest.update(np.ascontiguousarray(data[key]).tobytes())
    return digest.hexdigest()
