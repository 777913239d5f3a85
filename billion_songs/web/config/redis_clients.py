"""One Redis client per process for the Django cache (django-redis), instead of one per
request.

Django keeps its cache objects per thread and, under ASGI, per request context, so each
request builds a new django-redis cache and with it a new `redis.Redis` client: its
connection pool is shared (django-redis keeps the pools per URL), but building the client
(its table of response callbacks, among others) cost about 4% of a web process's Python
time per signed-in vote, whose session is read from the cache (settings: cached_db).
`SharedClientFactory` (DJANGO_REDIS_CONNECTION_FACTORY) hands every cache object the same
client for the same connection parameters. A `redis.Redis` client is safe to share
between threads: each command takes a connection from the pool and gives it back.
"""

from __future__ import annotations

import threading
from typing import Any

from django_redis.pool import ConnectionFactory


class SharedClientFactory(ConnectionFactory):
    _clients: dict[tuple, Any] = {}
    _lock = threading.Lock()

    def get_connection(self, params: dict[str, Any]):
        key = (self.redis_client_cls, repr(sorted(self.redis_client_cls_kwargs.items())),
               repr(sorted(params.items(), key=lambda item: item[0])))
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = super().get_connection(params)
        return client
