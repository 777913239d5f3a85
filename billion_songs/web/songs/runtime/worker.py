"""What a `billion-songs worker` process holds: the model, loaded once, and the two jobs
it does with it, each run by a Celery task (tasks.py):

- `write_song`: a song a visitor asked for (single-flight: see
  generation/redis_flights.py), with its events streamed to the visitors' pages as it is
  written;
- `fill_batch`: a batch of new songs for the shared random pool. Batch ids are chosen
  when the batch is queued, so a batch whose worker was killed is written again, with
  the same ids, by the worker the broker hands it to next.

A *top-up* thread in every worker keeps the pool at its target: it queues batches when
the pool plus the batches already queued fall short, refills an empty pool from the
database after a Redis restart, and marks served-out songs in the database.

Visitors first, as on one machine: a batch pauses between decoding steps while a
visitor's song is being written in the same process, and one process writes one batch at
a time, so a worker's other thread is free for visitors.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from billion_songs.core.interface import LyricsGenerator
from billion_songs.web.config.celery import app
from billion_songs.web.songs.data import redis_clients
from billion_songs.web.songs.generation.filler import PoolFiller, new_song_ids
from billion_songs.web.songs.generation.flights import Abandoned
from billion_songs.web.songs.generation.lease import Lease
from billion_songs.web.songs.generation.redis_flights import FlightPublisher, lease_key, request_key
from billion_songs.web.songs.generation.redis_pool import RedisPool
from billion_songs.web.songs.generation.writer import SongWriter

log = logging.getLogger(__name__)

BATCHES = redis_clients.key("pool", "batches")  # sorted set: queued batch id -> time queued
BATCH_IDS = redis_clients.key("pool", "batch-ids")  # hash: queued batch id -> its song ids (for operators)
STATS = redis_clients.key("stats")  # hash of counters: songs_written, batches_written, pool_songs_written
WORKERS = redis_clients.key("workers")  # sorted set: worker name -> last heartbeat
RESTORED = redis_clients.key("pool", "restored")  # set once the pool was restored from the database
TOPUP_LOCK = redis_clients.key("pool", "topup")
POOL_BATCH_TASK = "songs.pool_batch"  # tasks.pool_batch


def batch_lease_key(batch_id: str) -> str:
    return redis_clients.key("pool", "batch", batch_id, "lease")


class Worker:
    def __init__(self, generator: LyricsGenerator):
        self.generator = generator
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.writer = SongWriter(generator=generator)
        self.priority = self.writer.priority
        self.pool = RedisPool(target=settings.SONG_POOL_TARGET, serves=settings.SONG_POOL_SERVES)
        self.filler = PoolFiller(pool=self.pool, writer=self.writer)
        self.lease_ttl = settings.SONG_FLIGHT_LEASE
        self._batch_slot = threading.Lock()
        self._stopping = threading.Event()
        self._topup: threading.Thread | None = None

    # --- Visitors' songs ---------------------------------------------------------------

    def write_song(self, song_id: int) -> None:
        lease = Lease(lease_key(song_id), ttl=self.lease_ttl)
        if not lease.acquire():
            return  # another worker is writing it, and will publish it
        redis = redis_clients.client()
        redis.delete(request_key(song_id))  # the lease stands for the request from now on
        publisher = FlightPublisher(song_id)
        try:
            with lease.heartbeat():
                _, written = self.writer.write(song_id, publish=publisher.publish, begin=publisher.begin)
            if written:
                self._count("songs_written")
            publisher.finish(stored=True)
        except Abandoned as abandoned:  # its visitors left while it was queued: not written
            log.info("%s", abandoned)
            publisher.finish(stored=False, reason="nobody waits for this song any more")
        except Exception as error:  # nothing stored: the visitors are told, a later visit retries
            log.exception("Writing song %d failed", song_id)
            publisher.finish(stored=False, reason=f"{type(error).__name__}: {error}")
        finally:
            lease.release()
            close_old_connections()

    # --- The pool ------------------------------------------------------------------------

    def fill_batch(self, batch_id: str, song_ids: list[int]) -> bool:
        """Write the batch unless it is written already; False if this process is busy
        with another batch (the task then goes back to the queue)."""
        if not self._batch_slot.acquire(blocking=False):
            return False
        try:
            lease = Lease(batch_lease_key(batch_id), ttl=self.lease_ttl)
            # Delivered again while its first worker still runs (it outlived the broker's
            # visibility timeout)? Then that worker's lease is alive: wait for it to end
            # or expire (its worker died), and write only what is still missing.
            if not lease.acquire(wait=2 * self.lease_ttl):
                return True
            try:
                with lease.heartbeat():
                    written = self.filler.fill(song_ids, between_steps=self._between_steps)
                    if written:
                        self._count("batches_written")
                        self._count("pool_songs_written", written)
                pipe = redis_clients.client().pipeline()
                pipe.zrem(BATCHES, batch_id)
                pipe.hdel(BATCH_IDS, batch_id)
                pipe.execute()
            finally:
                lease.release()
        finally:
            self._batch_slot.release()
            close_old_connections()
        self._top_up_quietly()  # queue the next batch now rather than at the next tick
        return True

    def _count(self, counter: str, amount: int = 1) -> None:
        """Site-wide counters in Redis (what operators and the fault tests read)."""
        try:
            redis_clients.client().hincrby(STATS, counter, amount)
        except redis_clients.Error:
            pass

    def _between_steps(self) -> None:
        self.priority.wait_for_visitors()

    # --- Top-up --------------------------------------------------------------------------

    def start(self) -> None:
        self._topup = threading.Thread(target=self._topup_loop, name="pool-top-up", daemon=True)
        self._topup.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._topup is not None:
            self._topup.join(10)

    def _topup_loop(self) -> None:
        while not self._stopping.wait(settings.SONG_POOL_TOPUP_INTERVAL):
            self._top_up_quietly()

    def _top_up_quietly(self) -> None:
        try:
            self.top_up()
        except Exception as error:  # Redis or the database restarting: next round
            log.warning("Pool top-up: %s", error)
        finally:
            close_old_connections()

    def top_up(self) -> int:
        """One round: heartbeat, bookkeeping (served-out songs marked in the database),
        and batches queued for what the pool lacks. Returns how many batches were queued.
        One worker at a time does all but the heartbeat."""
        redis = redis_clients.client()
        now = time.time()
        redis.zadd(WORKERS, {self.name: now})
        lock = Lease(TOPUP_LOCK, ttl=30)
        if not lock.acquire():
            return 0
        try:
            return self._top_up_locked(redis, now)
        finally:
            lock.release()

    def _top_up_locked(self, redis, now: float) -> int:
        self.filler.flush_exhausted()
        if not redis.exists(RESTORED):
            # An empty Redis (first start, or a restart): pooled songs are in the database
            # (good, visible ones only), with the tags that narrow Make Random.
            restored = self.filler.restore()
            redis.set(RESTORED, "1")
            log.info("Random pool: restored %d stored songs", restored)
        redis.zremrangebyscore(WORKERS, 0, now - 10 * settings.SONG_POOL_TOPUP_INTERVAL - 30)
        # A batch queued long ago and never finished was lost with its queue (a Redis
        # restart); one still running or waiting for redelivery has its lease alive.
        stale = now - settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] - 4 * self.lease_ttl
        for batch_id in redis.zrangebyscore(BATCHES, 0, stale):
            redis.zrem(BATCHES, batch_id)
            redis.hdel(BATCH_IDS, batch_id)
        workers = max(1, redis.zcard(WORKERS))
        queued = redis.zcard(BATCHES)
        missing = self.pool.target - len(self.pool) - queued * settings.SONG_POOL_BATCH
        sent = 0
        # One batch per worker in flight at most: each worker writes one at a time.
        while missing > 0 and queued + sent < workers:
            self.queue_batch()
            missing -= settings.SONG_POOL_BATCH
            sent += 1
        return sent

    def queue_batch(self) -> str:
        batch_id = secrets.token_hex(8)
        # Chosen now, so a batch whose worker was killed is written again with the same ids.
        song_ids = new_song_ids(settings.SONG_POOL_BATCH)
        pipe = redis_clients.client().pipeline()
        pipe.zadd(BATCHES, {batch_id: time.time()})
        pipe.hset(BATCH_IDS, batch_id, ",".join(map(str, song_ids)))
        pipe.execute()
        app.send_task(POOL_BATCH_TASK, (batch_id, song_ids))
        return batch_id


_current: Worker | None = None


def start(generator: LyricsGenerator) -> Worker:
    """Make this process a worker (called once, before Celery starts consuming)."""
    global _current
    _current = Worker(generator)
    _current.start()
    return _current


def current() -> Worker:
    if _current is None:
        raise RuntimeError("this process is not a song worker: start it with `billion-songs worker`")
    return _current
