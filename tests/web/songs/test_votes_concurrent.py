"""Counts stay exact when many visitors vote at once: real threads, each with its own
database connection, against the configured database (SQLite in WAL mode by default).
`test_the_same_on_postgresql` runs this module again against PostgreSQL."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection

from billion_songs.core.song import MAX_SONG_ID
from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.data.models import (
    SongTally,
    TitleSuggestion,
    TitleSuggestionVote,
    Vote,
)
from tests.support.songs import store, users

THREADS = 12
ROUNDS = 12
POSTGRES_URL = os.environ.get("BILLION_SONGS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def run_together(work, count: int = THREADS) -> None:
    """Run work(i) in `count` threads released at once; re-raise the first error."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(i)
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(error)
        finally:
            connection.close()  # this thread's connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[0]


def test_runs_on_the_configured_database(db):
    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected


def test_many_voters_changing_their_votes_at_once_keep_the_counts_exact(transactional_db):
    store(MAX_SONG_ID)
    voters = users(THREADS)
    finals: dict[int, int] = {}

    def vote_a_lot(i: int) -> None:
        rng = random.Random(i)
        value = 0
        for _ in range(ROUNDS):
            value = rng.choice([1, -1, 0, 1])
            services.vote_cast(user=voters[i], song_id=MAX_SONG_ID, value=value)
        finals[i] = value

    run_together(vote_a_lot)
    up = sum(1 for v in finals.values() if v == 1)
    down = sum(1 for v in finals.values() if v == -1)
    tally = SongTally.objects.get(song_id=MAX_SONG_ID)
    assert (tally.up, tally.down, tally.score) == (up, down, up - down)
    assert Vote.objects.filter(song_id=MAX_SONG_ID).count() == up + down
    assert selectors.tally_mismatches() == []


def test_one_visitor_clicking_in_many_tabs_at_once_counts_once(transactional_db):
    store(0)
    (ann,) = users(1)
    run_together(lambda i: services.vote_cast(user=ann, song_id=0, value=1))
    assert Vote.objects.filter(user=ann).count() == 1
    assert SongTally.objects.filter(song_id=0).values_list("up", "down", "score").get() == (1, 0, 1)


def test_first_votes_on_many_songs_at_once(transactional_db):
    song_ids = [1, 2, 3]
    store(*song_ids)
    voters = users(THREADS)
    run_together(lambda i: [services.vote_cast(user=voters[i], song_id=s, value=1 if (i + s) % 3 else -1)
                            for s in song_ids])
    assert selectors.tally_mismatches() == []
    assert SongTally.objects.count() == 3


def test_concurrent_votes_on_a_title_suggestion_keep_its_counts_exact(transactional_db):
    store(5)
    voters = users(THREADS)
    (author,) = users(1, prefix="author")  # nobody votes on their own suggestion
    suggestion = services.title_suggestion_create(user=author, song_id=5, text="Together")

    def vote(i: int) -> None:
        services.title_suggestion_vote(user=voters[i], suggestion_id=suggestion.pk, value=1)
        if i % 3 == 0:
            services.title_suggestion_vote(user=voters[i], suggestion_id=suggestion.pk, value=-1)

    run_together(vote)
    suggestion = TitleSuggestion.objects.get(pk=suggestion.pk)
    down = len(range(0, THREADS, 3))
    assert (suggestion.up, suggestion.down, suggestion.score) == (THREADS - down, down, THREADS - 2 * down)
    assert TitleSuggestionVote.objects.filter(value=1).count() == suggestion.up


def _postgres_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=2):
            return True
    except OSError:
        return False


def test_the_same_on_postgresql():
    """This module again, in a subprocess whose DATABASE_URL is PostgreSQL (a test
    database of its own is created and dropped there)."""
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("this run is on PostgreSQL already")
    pytest.importorskip("psycopg")
    if not _postgres_reachable(POSTGRES_URL):
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (set BILLION_SONGS_TEST_POSTGRES_URL)")
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(Path(__file__).relative_to(root)), "-q", "-p", "no:cacheprovider",
         "-k", "not postgresql"],
        check=False, cwd=root, env={**os.environ, "DATABASE_URL": POSTGRES_URL}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout, result.stdout[-2000:]
