"""Visitors waiting for a new song hold no database connection while they wait: with a
pool of 2 connections a process and 6 visitors waiting, stored songs still open at once.
Before, each waiting visitor kept the connection of its first read (is the song stored?)
until its song ended, and the bench's flood ran the pool dry: readers of stored songs
waited 5 s for a connection, then got the "database unreachable" 503."""

from __future__ import annotations

import time

from tests.support.waiting import wait_for
from tests.web.scale.conftest import OFFSET
from tests.web.visitors import Visitor, visit

WAITING = 6


def test_visitors_waiting_for_new_songs_leave_the_connection_pool_to_others(site_factory):
    site = site_factory(BILLION_SONGS_FAKE_LINE_DELAY="1.0", BILLION_SONGS_DB_POOL_MAX="2",
                        BILLION_SONGS_NEW_SONGS_QUEUE="20", BILLION_SONGS_NEW_SONGS_PER_CLIENT="20")
    web = site.start_web()
    site.start_worker()
    wait_for(lambda: len(site.sql("SELECT id FROM songs_song WHERE ok AND NOT hidden")) >= 3, timeout=90,
             what="the pool's first songs stored")
    stored = [row[0] + OFFSET for row in site.sql("SELECT id FROM songs_song WHERE ok AND NOT hidden LIMIT 3")]

    waiting = [Visitor(web.url, f"/song/{2**62 + n}", timeout=180) for n in range(WAITING)]
    try:
        assert [v.status for v in waiting] == [200] * WAITING  # each page is streaming, its song not yet written
        for song_id in stored:  # never shown before: each is read from the database
            started = time.monotonic()
            status, _, body = visit(web.url, f"/song/{song_id}", timeout=30)
            assert status == 200 and b"</html>" in body, body[-300:]
            assert time.monotonic() - started < 3.0, "waited for a database connection"
    finally:
        for visitor in waiting:
            visitor.leave()
