"""Database reads from async code that give their connection back as soon as they are done.

Under ASGI a synchronous read runs on a thread (`sync_to_async`), and the connection it
opens belongs to that thread until something closes it: for a request served by Django's
ASGI handler, when the request ends. A visitor waiting minutes for a new song's page (its
first read asks whether the song is stored; while it waits, the flight asks again now and
then) kept one of the process's pooled PostgreSQL connections all that time: a flood of
new ids ran the pool dry, and readers of stored songs waited for a connection, then got the
"database unreachable" page (tests/web/scale/test_waiting_connections.py). Here every read
hands its connection back (to the pool, or closes it on SQLite: CONN_MAX_AGE is 0) when it
returns, unless a transaction is open on it (a test's, which must see its own rows).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

T = TypeVar("T")


def release_connections() -> None:
    """Hand back this thread's database connections that no transaction holds."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def released(function: Callable[..., T]) -> Callable[..., T]:
    """`function`, handing back this thread's connections when it returns or raises."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            release_connections()
    return run


async def read(function: Callable[..., T], /, *args, **kwargs) -> T:
    """Run a synchronous read (a selector) from async code; its connection goes back at once."""
    return await sync_to_async(released(function))(*args, **kwargs)
