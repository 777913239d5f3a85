"""A vote on PostgreSQL is one statement (data/vote_function.py), and it writes what the
statements of the SQLite path write: the same counts, revisions and Wilson bounds, to the
bit. Runs on SQLite (the four statements) and, through `test_the_same_on_postgresql`,
on PostgreSQL (the function)."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.data.models import SongTally, Vote
from billion_songs.web.songs.data.ranking import wilson_lower_bound
from tests.support.songs import store, users
from tests.web.songs.on_postgresql import rerun_on_postgresql


def _statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_a_vote_is_one_statement_on_postgresql_and_four_elsewhere(db):
    store(5)
    ann, bob = users(2)
    services.vote_cast(user=bob, song_id=5, value=1)  # the tally row exists
    for value in (1, -1, 0):
        with CaptureQueriesContext(connection) as queries:
            services.vote_cast(user=ann, song_id=5, value=value)
        expected = 1 if connection.vendor == "postgresql" else 4
        assert len(_statements(queries)) == expected, _statements(queries)
    assert selectors.tally_mismatches() == []


def test_the_wilson_bound_written_is_the_python_one_to_the_bit(db):
    """For every (up, down) up to 40 each and a few large ones: the tally set one vote
    short, then a vote cast; `wilson` must equal ranking.wilson_lower_bound exactly."""
    store(6)
    (ann,) = users(1)
    pairs = list(itertools.product(range(41), range(41))) + [(900, 100), (12345, 6789), (1, 99999)]
    for up, down in pairs:
        if up == 0:
            continue  # ann's vote up makes the last of `up`
        Vote.objects.filter(user=ann).delete()
        SongTally.objects.update_or_create(song_id=6, defaults={"up": up - 1, "down": down})
        change = services.vote_cast(user=ann, song_id=6, value=1)
        assert change.counts == (up, down)
        tally = SongTally.objects.get(song_id=6)
        assert (tally.up, tally.down, tally.score) == (up, down, up - down)
        assert tally.wilson == wilson_lower_bound(up, down), (up, down, tally.wilson)


def test_withdrawing_the_last_vote_leaves_a_zero_bound(db):
    store(7)
    (ann,) = users(1)
    services.vote_cast(user=ann, song_id=7, value=-1)
    services.vote_cast(user=ann, song_id=7, value=0)
    tally = SongTally.objects.get(song_id=7)
    assert (tally.up, tally.down, tally.score, tally.wilson, tally.revision) == (0, 0, 0, 0.0, 2)


def test_each_change_moves_the_revision_by_one_and_a_repeat_not_at_all(db):
    store(8)
    (ann,) = users(1)
    revisions = []
    for value in (1, 1, -1, 0, 0, 1):
        services.vote_cast(user=ann, song_id=8, value=value)
        revisions.append(SongTally.objects.get(song_id=8).revision)
    assert revisions == [1, 1, 2, 3, 3, 4]


@pytest.mark.parametrize("song", ["missing", "hidden", "failed"])
def test_songs_that_cannot_be_voted_on_are_refused_and_nothing_is_written(db, song):
    (ann,) = users(1)
    if song == "hidden":
        store(9)
        services.songs_hide(song_ids=[9])
    elif song == "failed":
        store(9, ok=False)
    with pytest.raises(services.Unavailable):
        services.vote_cast(user=ann, song_id=9, value=1)
    assert not Vote.objects.exists() and not SongTally.objects.filter(song_id=9, up__gt=0).exists()


def test_the_same_on_postgresql():
    rerun_on_postgresql(__file__)
