"""The ASGI front's database looks before a refusal (songs/http/stored_looks.py): the right
answer for stored and never-seen ids, the looks waiting at once in one query, and every
waiting look answered when the database cannot say or a visitor leaves."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.db import OperationalError

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.http import stored_looks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queries(monkeypatch):
    """The id lists each query asked for (the real query runs)."""
    asked: list[list[int]] = []
    real = selectors.song_ids_stored

    def counted(*, song_ids):
        asked.append(sorted(song_ids))
        time.sleep(0.05)  # a database a little slow to answer: the next looks come meanwhile
        return real(song_ids=song_ids)

    monkeypatch.setattr(selectors, "song_ids_stored", counted)
    return asked


@pytest.fixture
def stored():
    for song in FakeLyricsGenerator().generate([1, 2, 3]):
        services.song_store(song=song)


def test_looks_asked_at_once_go_to_the_database_in_one_query(stored, queries):
    ids = [1, 2, 3, *range(1000, 1017)]

    async def all_at_once():
        return await asyncio.gather(*(stored_looks.looks().stored(song_id) for song_id in ids))

    assert asyncio.run(all_at_once()) == [True] * 3 + [False] * 17
    assert queries == [sorted(ids)]  # one query per id before


def test_looks_asked_while_a_query_runs_go_in_the_next(stored, queries):
    async def first_then_more():
        first = asyncio.ensure_future(stored_looks.looks().stored(2000))
        await asyncio.sleep(0.01)  # its query is running
        later = [asyncio.ensure_future(stored_looks.looks().stored(song_id)) for song_id in (1, 2001, 2002, 2001)]
        return await first, await asyncio.gather(*later)

    assert asyncio.run(first_then_more()) == (False, [True, False, False, False])
    assert queries == [[2000], [1, 2001, 2002]]  # an id asked twice is asked once


def test_every_waiting_look_is_answered_when_the_database_cannot_say(stored, monkeypatch):
    def unreachable(*, song_ids):
        raise OperationalError("connection refused")

    async def ask(song_ids):
        return await asyncio.gather(*(stored_looks.looks().stored(song_id) for song_id in song_ids))

    with monkeypatch.context() as patched:
        patched.setattr(selectors, "song_ids_stored", unreachable)
        assert asyncio.run(ask([1, 3000, 3001])) == [None, None, None]  # Django answers those
    assert asyncio.run(ask([1, 3000])) == [True, False]  # and the next looks ask again


def test_a_visitor_who_leaves_does_not_hold_up_the_others(stored, queries):
    async def one_leaves():
        waiting = [asyncio.ensure_future(stored_looks.looks().stored(song_id)) for song_id in (1, 4000, 4001)]
        await asyncio.sleep(0)  # all three wait on the query
        waiting[1].cancel()
        answers = await asyncio.gather(*waiting, return_exceptions=True)
        return answers[0], isinstance(answers[1], asyncio.CancelledError), answers[2]

    assert asyncio.run(one_leaves()) == (True, True, False)
