"""Celery tasks: thin wrappers around the worker (worker.py), which holds the model.
Both are idempotent, so a task delivered twice (a worker killed mid-task, the broker's
visibility timeout) writes nothing twice. Web processes and the top-up send them by name."""

from __future__ import annotations

from django.db import DatabaseError

from billion_songs.web.config.celery import app
from billion_songs.web.songs.data import redis_clients
from billion_songs.web.songs.generation.redis_flights import GENERATE_TASK
from billion_songs.web.songs.runtime import worker


@app.task(name=GENERATE_TASK)
def song_generate(song_id: int) -> None:
    """Write a song a visitor asked for, streaming its events to the visitors' pages."""
    worker.current().write_song(int(song_id))


# A batch that fails because PostgreSQL or Redis is away is tried again with back-off
# (2 s, 4 s, ... up to a minute) until they are back, rather than dropped: a dropped batch
# would count as queued, and hold up the pool's refill, until it is found stale.
@app.task(name=worker.POOL_BATCH_TASK, bind=True, max_retries=None,
          autoretry_for=(DatabaseError, redis_clients.Error), retry_backoff=2, retry_backoff_max=60)
def pool_batch(self, batch_id: str, song_ids: list[int]) -> None:
    """Write a batch of new songs for the shared random pool."""
    if not worker.current().fill_batch(batch_id, [int(song_id) for song_id in song_ids]):
        # This process is writing another batch: hand this one back to the queue rather
        # than hold a thread that visitors' songs need.
        raise self.retry(countdown=2)
