"""A worker outlives outages of its broker and of PostgreSQL, of 10 s (a restart, a
failover) and of 60 s, without being restarted: after each, a never-seen id asked for
is written by that worker and stored.

The worker is kept busy (a large pool target: it is always writing a batch), so every
outage hits a running task: what used to crash kombu's Redis transport (an "Unrecoverable
error" and the worker gone, in about two runs of three). The broker is Redis, killed and
started again empty; PostgreSQL is reached through a TCP proxy that is cut (the machine's
server is never stopped)."""

from __future__ import annotations

import time

import pytest

from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_for
from tests.web.scale.conftest import OFFSET

pytestmark = pytest.mark.slow

BUSY = {"BILLION_SONGS_POOL_TARGET": "400"}


def _rows(site) -> int:
    return site.sql("SELECT count(*) FROM songs_song")[0][0]


def _assert_new_song_written(site, web, worker, song_id: int) -> None:
    status, _, document = web.get(f"/api/songs/{song_id}", timeout=120)
    assert status == 200 and b'"ok": true' in document, document[:300]
    assert site.sql("SELECT count(*) FROM songs_song WHERE id = %s", song_id - OFFSET) == [(1,)]
    assert worker.alive(), worker.tail()
    assert "Unrecoverable error" not in worker.output(), worker.tail(60)


@pytest.mark.parametrize("seconds", [10, 60])
def test_the_worker_outlives_a_broker_outage(site_factory, redis_server, seconds):
    site = site_factory(**BUSY)
    web = site.start_web()
    worker = site.start_worker()
    wait_for(lambda: _rows(site) >= 8, timeout=60, what="the first batches written")

    redis_server.kill()  # the broker, the pool, the locks and the streams: all gone
    time.sleep(seconds)
    assert worker.alive(), worker.tail()
    redis_server.start()  # empty, as after a restart

    _assert_new_song_written(site, web, worker, 2**41 + seconds)


@pytest.mark.parametrize("seconds", [10, 60])
def test_the_worker_outlives_a_database_outage(site_factory, seconds):
    site = site_factory(**BUSY)
    web = site.start_web()  # on the database directly: only the worker sees the outage
    with TcpProxy(("127.0.0.1", 5432)) as database:
        site.env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{database.port}/{site.database}"
        worker = site.start_worker()
        wait_for(lambda: _rows(site) >= 8, timeout=60, what="the first batches written")

        database.stop()  # open connections break, new ones are refused
        time.sleep(seconds)
        assert worker.alive(), worker.tail()
        before = _rows(site)
        database.start()

        wait_for(lambda: _rows(site) >= before + 8, timeout=60, what="the pool refilled after the outage")
        _assert_new_song_written(site, web, worker, 2**42 + seconds)
