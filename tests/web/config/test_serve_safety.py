"""`billion-songs serve` as a user runs it: its data is private whatever the umask, it says
at start-up that reset mails are off on a public bind without a site URL, and it refuses
a placeholder secret key in one clear line."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SERVE = [sys.executable, "-c", "import os; os.umask(0o022); from billion_songs.cli import main; main()", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "BILLION_SONGS_", "DATABASE_URL", "REDIS_URL"))}
    return {**env, "BILLION_SONGS_GENERATOR_FACTORY": "billion_songs.web.songs.generation.fake_generator",
            "BILLION_SONGS_POOL_FILL": "0", "PYTHONUNBUFFERED": "1", **extra}


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_public_bind_keeps_its_data_private_and_warns_that_reset_mails_are_off(tmp_path):
    data = tmp_path / "data"
    command = [*SERVE, "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(data)]
    process = subprocess.Popen(command, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        for line in process.stdout:
            output.append(line)
            if "Uvicorn running on" in line:
                break
        text = "".join(output)
        assert "Uvicorn running on" in text, text
        assert "password-reset mails are switched off" in text and "BILLION_SONGS_SITE_URL" in text
        assert text.index("switched off") < text.index("Uvicorn running on")
        assert mode(data) == 0o700
        files = {path.name: mode(path) for path in data.iterdir()}
        assert files["billion-songs.sqlite3"] == 0o600 and files["secret_key"] == 0o600
        assert set(files.values()) == {0o600}, files  # the -wal and -shm files too
    finally:
        process.terminate()
        process.wait(20)


def test_a_site_url_switches_the_warning_off(tmp_path):
    # The same start-up, stopped by a bad proxy list after the warnings would have shown.
    result = subprocess.run([*SERVE, "--host", "0.0.0.0", "--port", "1", "--data-dir", str(tmp_path)],
                            env=environment(BILLION_SONGS_SITE_URL="https://songs.example",
                                            BILLION_SONGS_TRUSTED_PROXIES="proxy.internal"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "switched off" not in result.stdout + result.stderr
    assert "Error: BILLION_SONGS_TRUSTED_PROXIES: 'proxy.internal' does not appear to be an IPv4 or IPv6 network" \
        in result.stderr


def test_a_placeholder_secret_key_is_refused_before_anything_starts(tmp_path):
    result = subprocess.run([*SERVE, "--port", "1", "--data-dir", str(tmp_path / "data")],
                            env=environment(DJANGO_SECRET_KEY="change-me-to-a-long-random-string"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Error: DJANGO_SECRET_KEY is the example's placeholder" in result.stderr
