"""Running a test module again against PostgreSQL, in a subprocess whose DATABASE_URL
points there (the test settings give it a test database of its own), as
test_votes_concurrent.py does: the default run is SQLite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get("BILLION_SONGS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[3]


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=2):
            return True
    except OSError:
        return False


def rerun_on_postgresql(test_file: str) -> None:
    """Run the other tests of `test_file` (a module's __file__) on PostgreSQL; skip when
    this run already is on PostgreSQL, or there is no server."""
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("this run is on PostgreSQL already")
    pytest.importorskip("psycopg")
    if not _reachable(POSTGRES_URL):
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (set BILLION_SONGS_TEST_POSTGRES_URL)")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(Path(test_file).resolve().relative_to(ROOT)), "-q",
         "-p", "no:cacheprovider", "-k", "not postgresql"],
        check=False, cwd=ROOT, env={**os.environ, "DATABASE_URL": POSTGRES_URL}, capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1], result.stdout[-2000:]
