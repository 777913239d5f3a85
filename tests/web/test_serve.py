"""`billion-songs serve` as a user runs it: a process with a fresh data dir, migrations on
start, the generator loaded before the port opens, then a restart that restores the pool."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from billion_songs.web.songs.data.fields import from_stored
from tests.support.processes import FAKE_GENERATOR, Served, site_environment
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


def serve(data_dir: Path, log_path: Path) -> Served:
    env = site_environment(BILLION_SONGS_GENERATOR_FACTORY=FAKE_GENERATOR, BILLION_SONGS_POOL_TARGET="8",
                           BILLION_SONGS_POOL_SERVES="2", BILLION_SONGS_POOL_BATCH="4")
    served = Served.start(env, log_path, "--data-dir", str(data_dir))
    served.process.wait_for_output("Uvicorn running on")  # the port is open
    return served


def pooled_ids(database: Path) -> set[int]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT id FROM songs_song WHERE in_pool AND ok").fetchall()
    return {from_stored(row[0]) for row in rows}


def test_serve_migrates_loads_the_model_serves_and_restores_its_pool_after_a_restart(tmp_path):
    data_dir = tmp_path / "data"
    database = data_dir / "billion-songs.sqlite3"

    first = serve(data_dir, tmp_path / "first.log")
    try:
        text = first.process.output()
        assert "Applying database migrations" in text and "Model ready: fake-1" in text
        assert text.index("Model ready") < text.index("Uvicorn running on")
        # The process loaded the melody's dictionaries, then froze its start-up heap
        # (server.ready_for_visitors): the pronouncing dictionary alone is 170,000 objects.
        frozen = re.search(r"Web process \d+ ready: melody loaded, ([\d,]+) start-up objects", text)
        assert frozen and int(frozen.group(1).replace(",", "")) > 200_000, text
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert first.get("/healthz")[2] == b"ok"
        wait_for(lambda: len(pooled_ids(database)) >= 8, timeout=20, what="a full pool")
        status, headers, _ = first.get("/random")
        assert status == 302 and first.get(headers["location"])[0] == 200
        status, _, body = first.get(f"/song/{2**64 - 1}")
        assert status == 200 and b'<h1 class="title">' in body
    finally:
        first.stop()
    before_restart = pooled_ids(database)

    second = serve(data_dir, tmp_path / "second.log")
    try:
        restored = second.process.wait_for_output("Random pool: restored")
        assert f"restored {min(8, len(before_restart))} stored songs" in restored
        status, headers, _ = second.get("/random")
        assert int(headers["location"].rsplit("/", 1)[1]) in before_restart
        status, _, body = second.get(f"/api/songs/{2**64 - 1}")
        assert status == 200 and b'"id": "18446744073709551615"' in body  # stored by the first run
    finally:
        second.stop()


def test_several_web_processes_without_redis_are_refused_with_the_way_out(tmp_path):
    env = site_environment(BILLION_SONGS_GENERATOR_FACTORY=FAKE_GENERATOR)
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-m", "billion_songs", "serve", "--workers", "2", "--data-dir",
                             str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "set REDIS_URL and start `billion-songs worker`" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_worker_without_redis_is_refused(tmp_path):
    env = {**os.environ}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-m", "billion_songs", "worker", "--data-dir", str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "a worker needs Redis: set REDIS_URL" in result.stderr
