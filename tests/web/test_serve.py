"""`billion-songs serve` as a user runs it: a process with a fresh data dir, migrations on
start, the generator loaded before the port opens, then a restart that restores the pool."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from billion_songs.web.songs.fields import from_stored

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    def __init__(self, data_dir: Path):
        self.port = free_port()
        env = {
            **os.environ,
            "BILLION_SONGS_GENERATOR_FACTORY": "billion_songs.web.songs.generation.fake_generator",
            "BILLION_SONGS_POOL_TARGET": "8",
            "BILLION_SONGS_POOL_SERVES": "2",
            "BILLION_SONGS_POOL_BATCH": "4",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)  # serve picks its production settings
        command = [sys.executable, "-c", "from billion_songs.cli import main; main()", "serve",
                   "--port", str(self.port), "--data-dir", str(data_dir)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        self.read_until("Uvicorn running on")  # the port is open

    def read_until(self, marker: str, timeout: float = 60) -> str:
        """The first output line containing `marker`, read so far or from now on."""
        for line in self.output:
            if marker in line:
                return line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError("serve exited:\n" + "".join(self.output))
            self.output.append(line)
            if marker in line:
                return line
        raise AssertionError(f"no {marker!r} within {timeout}s:\n" + "".join(self.output))

    def get(self, path: str) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        connection.request("GET", path)
        response = connection.getresponse()
        result = response.status, dict(response.getheaders()), response.read()
        connection.close()
        return result

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # Ctrl-C
        self.process.wait(20)


def pooled_ids(database: Path) -> set[int]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT id FROM songs_song WHERE in_pool AND ok").fetchall()
    return {from_stored(row[0]) for row in rows}


def wait_for(condition, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
    return value


def test_serve_migrates_loads_the_model_serves_and_restores_its_pool_after_a_restart(tmp_path):
    data_dir = tmp_path / "data"
    database = data_dir / "billion-songs.sqlite3"

    first = Served(data_dir)
    try:
        text = "".join(first.output)
        assert "Applying database migrations" in text and "Model ready: fake-1" in text
        assert text.index("Model ready") < text.index("Uvicorn running on")
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert first.get("/healthz")[2] == b"ok"
        wait_for(lambda: len(pooled_ids(database)) >= 8)
        status, headers, _ = first.get("/random")
        assert status == 302 and first.get(headers["location"])[0] == 200
        status, _, body = first.get(f"/song/{2**64 - 1}")
        assert status == 200 and b'<h1 class="title">' in body
    finally:
        first.stop()
    before_restart = pooled_ids(database)

    second = Served(data_dir)
    try:
        restored = second.read_until("Random pool: restored")
        assert f"restored {min(8, len(before_restart))} stored songs" in restored
        status, headers, _ = second.get("/random")
        assert int(headers["location"].rsplit("/", 1)[1]) in before_restart
        status, _, body = second.get(f"/api/songs/{2**64 - 1}")
        assert status == 200 and b'"id": "18446744073709551615"' in body  # stored by the first run
    finally:
        second.stop()


def test_several_web_processes_without_redis_are_refused_with_the_way_out(tmp_path):
    env = {**os.environ, "BILLION_SONGS_GENERATOR_FACTORY": "billion_songs.web.songs.generation.fake_generator"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
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
