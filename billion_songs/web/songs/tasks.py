"""Celery tasks: thin wrappers around the worker runtime (songs/worker.py), which holds
the model. Both are idempotent, so a task delivered twice (a worker killed mid-task, the
broker's visibility timeout) writes nothing twice."""

from __future__ import annotations

from billion_songs.web.config.celery import app


@app.task(name="songs.generate")
def song_generate(song_id: int) -> None:
    """Write a song a visitor asked for, streaming its events to the visitors' pages."""
    from billion_songs.web.songs import worker

    worker.current().write_song(int(song_id))


@app.task(name="songs.pool_batch", bind=True, max_retries=None)
def pool_batch(self, batch_id: str, song_ids: list[int]) -> None:
    """Write a batch of new songs for the shared random pool."""
    from billion_songs.web.songs import worker

    if not worker.current().fill_batch(batch_id, [int(song_id) for song_id in song_ids]):
        # This process is writing another batch: hand this one back to the queue rather
        # than hold a thread that visitors' songs need.
        raise self.retry(countdown=2)
