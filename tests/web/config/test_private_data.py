"""The data directory is private: created 0700, the secret key 0600 and written whole
(temporary file, fsync, link), weak or placeholder keys refused with a clear error."""

import os
import stat
import subprocess
import sys
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from billion_songs.web.config.env import checked_secret_key, private_file, secret_key_in


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_directory_and_key_are_private(tmp_path):
    data = tmp_path / "new" / "data"
    old = os.umask(0o022)  # a usual login umask: files would be 0644 by default
    try:
        key = secret_key_in(data)
        private_file(data / "db.sqlite3")
    finally:
        os.umask(old)
    assert mode(data) == 0o700 and mode(data / "secret_key") == 0o600 and mode(data / "db.sqlite3") == 0o600
    assert len(key) >= 50 and (data / "secret_key").read_text() == key
    assert sorted(p.name for p in data.iterdir()) == ["db.sqlite3", "secret_key"]  # no temporary file left
    assert secret_key_in(data) == key  # kept across restarts


def test_racing_processes_all_get_the_same_complete_key(tmp_path):
    keys, errors = [], []
    start = threading.Barrier(16)

    def first_start():
        start.wait()
        try:
            keys.append(secret_key_in(tmp_path / "data"))
        except Exception as error:  # an empty or partial key read from a racing writer
            errors.append(error)

    threads = [threading.Thread(target=first_start) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [] and len(set(keys)) == 1 and len(keys[0]) >= 50
    assert (tmp_path / "data" / "secret_key").read_text() == keys[0]


def test_an_empty_key_file_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "secret_key").write_text("")  # what a crash mid-write of an older version left
    with pytest.raises(ImproperlyConfigured, match="delete it to have a new one made"):
        secret_key_in(tmp_path)


@pytest.mark.parametrize("key, message", [
    ("change-me-to-a-long-random-string", "placeholder"),
    ("x" * 49, "49 characters"),
])
def test_weak_keys_are_refused(key, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        checked_secret_key(key, "DJANGO_SECRET_KEY")


def test_the_example_environment_file_holds_the_refused_placeholder():
    from pathlib import Path

    example = Path(__file__).resolve().parents[3] / "deploy" / "env.example"
    line = next(line for line in example.read_text().splitlines() if line.startswith("DJANGO_SECRET_KEY="))
    with pytest.raises(ImproperlyConfigured, match="placeholder"):
        checked_secret_key(line.split("=", 1)[1], "DJANGO_SECRET_KEY")


def test_production_settings_refuse_a_weak_key_from_the_environment(tmp_path):
    code = "import billion_songs.web.config.settings.production"
    env = {**os.environ, "BILLION_SONGS_DATA_DIR": str(tmp_path), "DJANGO_SECRET_KEY": "short"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "DJANGO_SECRET_KEY has 5 characters; it needs at least 50" in result.stderr
