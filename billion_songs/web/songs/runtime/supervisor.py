"""`billion-songs worker`: the model loaded once, the pool top-up started, then Celery's
consumer, kept running for as long as the process is not asked to stop.

Celery reconnects to a broker that went away (settings/base.py: for ever, with back-off),
but a transport can still crash its consumer on the way ("Unrecoverable error"), and
Celery then returns as if the worker had been stopped. Here a consumer that ends without
being asked to (SIGTERM, SIGINT, SIGQUIT: Celery's `worker_shutting_down`) is started
again in the same process, after a back-off, so the model stays loaded. A configuration
error (an unknown broker transport, a bad setting) raises instead, and the command exits
non-zero: retrying cannot mend it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import click
from celery import signals
from celery.utils.nodenames import host_format
from django.conf import settings
from kombu.transport import resolve_transport

from billion_songs.web.config.celery import app
from billion_songs.web.songs.generation.factory import generator_load
from billion_songs.web.songs.runtime import worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0  # seconds before the first restart
    longest: float = 60.0  # the delay doubles after each crash, up to this
    healthy: float = 300.0  # a consumer that ran this long crashed afresh: back to `first`


def supervise(start: Callable[[], int], *, stopping: Callable[[], bool], backoff: Backoff = Backoff(),
              sleep: Callable[[float], None] = time.sleep) -> int:
    """Call start() (one consumer's life; returns its exit code) until stopping() says
    the process was asked to stop; returns that last exit code. Exceptions from start()
    (configuration errors) propagate."""
    delay = backoff.first
    while True:
        began = time.monotonic()
        code = start()
        if stopping():
            return code
        if time.monotonic() - began >= backoff.healthy:
            delay = backoff.first
        log.error("The Celery consumer stopped by itself (exit code %s): starting it again in %.0f s", code, delay)
        sleep(delay)
        if stopping():
            return code
        delay = min(2 * delay, backoff.longest)


class StopRequests:
    """Whether Celery was asked to stop this process (a signal), as opposed to its
    consumer ending by itself."""

    def __init__(self):
        self._asked = threading.Event()
        signals.worker_shutting_down.connect(self._on_shutting_down, weak=False)

    def _on_shutting_down(self, **_) -> None:
        self._asked.set()

    def __call__(self) -> bool:
        return self._asked.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep, but no longer than until a stop is asked for."""
        self._asked.wait(seconds)


def check_broker() -> None:
    """A broker URL whose transport does not exist is a configuration error, not an
    outage: say so now rather than retry for ever."""
    try:
        resolve_transport(app.conf.broker_transport or app.conf.broker_url.split("://", 1)[0])
    except (KeyError, ImportError, AttributeError, ValueError) as error:
        raise click.UsageError(f"cannot use the broker {app.conf.broker_url!r}: {error}") from None


def consume(*, concurrency: int, log_level: str) -> int:
    """One Celery consumer's life in this process; returns its exit code."""
    celery_worker = app.Worker(
        pool_cls="threads",  # one process, one model; a thread for visitors beside a batch
        concurrency=concurrency,
        queues=["songs", "pool"],
        loglevel=log_level.upper(),
        hostname=host_format(f"songs-{os.getpid()}@%h"),
        without_gossip=True, without_mingle=True,  # no chatter between workers: they share nothing but Redis
    )
    celery_worker.start()
    return celery_worker.exitcode or 0


def run_worker(*, model: str | None = None, threads: int | None = None, concurrency: int = 2,
               log_level: str = "info") -> int:
    """The whole command, once Django is set up; returns the exit code."""
    if not settings.CELERY_BROKER_URL or not settings.REDIS_URL:
        raise click.UsageError("a worker needs Redis: set REDIS_URL (and DATABASE_URL for PostgreSQL), "
                               "the same as the web processes'")
    check_broker()
    click.echo("Loading the lyrics model (the first start prepares it, with progress below)...")
    generator = generator_load(model=model, threads=threads)
    click.echo(f"Model ready: {generator.model_version}")
    songs_worker = worker.start(generator)
    stopping = StopRequests()
    try:
        return supervise(lambda: consume(concurrency=concurrency, log_level=log_level), stopping=stopping,
                         sleep=stopping.wait)
    finally:
        songs_worker.stop()
