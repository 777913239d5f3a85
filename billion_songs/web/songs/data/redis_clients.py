"""Redis clients for the web processes and the workers.

One synchronous client per process (redis-py's connection pool is thread-safe) and one
asyncio client per event loop (an asyncio connection belongs to the loop that opened it).
Short timeouts: Redis is on the local network, and a request must never hang on it.

`breaker` keeps a Redis outage cheap: after a connection error, callers that can do
without Redis (Make Random, the vote counts cache) skip it for a second instead of
paying a connection attempt per request.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
import redis.asyncio
from django.conf import settings

from billion_songs.web.songs.data.per_loop import PerLoop

log = logging.getLogger(__name__)

KEY_PREFIX = "bs:"  # every key this project writes, besides Django's cache and Celery's

Error = redis.RedisError  # what a caller catches: connection errors, timeouts, replies

# driver_info: without it redis-py looks its own version up in the installed packages'
# metadata for every new connection (a scan of site-packages, about 0.7 ms; on the event
# loop, where a burst of requests opens dozens of connections at once, it held every
# other request of the process: bench/bench_flood.py --scaled).
DRIVER_INFO = redis.DriverInfo(lib_version=redis.__version__)
_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 2, "health_check_interval": 15,
            "decode_responses": True, "driver_info": DRIVER_INFO}
# Make Random draws its picks on the event loop (config/asgi.py's fast path): a Redis that
# hangs instead of refusing must cost it a quarter of a second, not five.
_FAST_OPTIONS = {**_OPTIONS, "socket_timeout": 0.25, "socket_connect_timeout": 0.25}
_clients: dict[str, redis.Redis] = {}
_async_clients: PerLoop[redis.asyncio.Redis] = PerLoop(
    lambda: redis.asyncio.Redis.from_url(settings.REDIS_URL, **_OPTIONS))
_async_bytes_clients: PerLoop[dict[str, redis.asyncio.Redis]] = PerLoop(dict)  # by URL
_lock = threading.Lock()


def longest_block() -> float:
    """Seconds one blocking command (XREAD BLOCK) may wait on these clients: a second
    under their socket timeout, past which redis-py stops reading, reports a timeout and
    drops the connection."""
    return max(0.1, _OPTIONS["socket_timeout"] - 1.0)


def key(*parts) -> str:
    return KEY_PREFIX + ":".join(str(part) for part in parts)


def _shared(kind: str, options: dict) -> redis.Redis:
    found = _clients.get(kind)
    if found is None:
        with _lock:
            found = _clients.setdefault(kind, redis.Redis.from_url(settings.REDIS_URL, **options))
    return found


def client() -> redis.Redis:
    return _shared("default", _OPTIONS)


def fast_client() -> redis.Redis:
    """For the few calls made on the event loop: short timeouts."""
    return _shared("fast", _FAST_OPTIONS)


def async_client() -> redis.asyncio.Redis:
    return _async_clients.get()


# Connections of an event loop's page-cache client (`async_bytes_client`). Each request for
# a song page reads the page cache first; with a connection per concurrent read, a flood's
# first 100 requests opened about 50 connections per process at once (a connect and a
# handshake each, on the event loop), and the stored pages read meanwhile waited behind
# them. A page-cache read is one GET: a few connections, each read waiting for a free one
# (an asyncio wait, no CPU), answer such a burst sooner.
PAGE_CACHE_CONNECTIONS = 8


def async_bytes_client(url: str) -> redis.asyncio.Redis:
    """An asyncio client of the Redis at `url` for values stored as bytes (the Django
    cache's pickled entries), one per event loop and URL, with at most
    PAGE_CACHE_CONNECTIONS connections (a command waits up to socket_timeout for one;
    then it fails like a command Redis does not answer)."""
    clients = _async_bytes_clients.get()
    found = clients.get(url)
    if found is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url, max_connections=PAGE_CACHE_CONNECTIONS, timeout=_OPTIONS["socket_timeout"],
            **{**_OPTIONS, "decode_responses": False})
        found = clients[url] = redis.asyncio.Redis(connection_pool=pool)
    return found


class Breaker:
    """Open for `pause` seconds after a failure: `closed()` is False meanwhile. The first
    failure of an outage is logged, not every request's."""

    def __init__(self, pause: float = 1.0):
        self.pause = pause
        self._open_until = 0.0
        self._failing = False

    def closed(self) -> bool:
        return time.monotonic() >= self._open_until

    def failed(self, error: Exception, what: str) -> None:
        if not self._failing:
            log.warning("Redis unavailable (%s): %s; using the database meanwhile", what, error)
        self._failing = True
        self._open_until = time.monotonic() + self.pause

    def succeeded(self) -> None:
        if self._failing:
            log.info("Redis is back")
        self._failing = False


breaker = Breaker()
