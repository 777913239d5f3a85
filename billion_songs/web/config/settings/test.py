"""Tests: a real SQLite file in WAL mode (like production, and shared by the live
server's threads), a fake generator, no background filler unless a test starts one."""

import os
import tempfile
from pathlib import Path

from billion_songs.web.config.settings.base import *
from billion_songs.web.config.settings.base import DATABASES

DEBUG = False
SECRET_KEY = "tests-only-not-secret"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
SITE_URL = "https://songs.test"

_TEST_DIR = Path(tempfile.mkdtemp(prefix="billion-songs-tests-"))
DATA_DIR = _TEST_DIR
DATABASES["default"] = dict(DATABASES["default"])
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["NAME"] = str(_TEST_DIR / "unused.sqlite3")
    # A file, not Django's shared in-memory database: WAL, real locking, real threads.
    DATABASES["default"]["TEST"] = {"NAME": str(_TEST_DIR / "test.sqlite3")}
else:
    # DATABASE_URL=postgres://...: a test database of this process's own, so that two
    # test runs on one server (a developer's and a subprocess's) never share one.
    DATABASES["default"]["TEST"] = {"NAME": f"test_billion_songs_{os.getpid()}"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation

SONG_GENERATOR_FACTORY = "billion_songs.web.songs.generation.fake_generator"
SONG_POOL_FILL = False
SONG_WORKERS = False  # the in-process runtime; tests/web/scale runs workers as real processes
SONG_POOL_TARGET = 20
SONG_POOL_SERVES = 3
SONG_POOL_BATCH = 4
RANDOM_VOTED_REFRESH = 0.0  # always read the latest votes
CHART_CACHE_SECONDS = 0  # charts show the latest votes
SONG_VOTE_THREADS = 0  # votes on the test's thread and connection, which see its transaction
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
