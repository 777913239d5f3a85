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

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
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


async def on_threads(executor: Executor | None, function: Callable[..., T], /, *args, **kwargs) -> T:
    """`function(*args, **kwargs)` on `executor`'s threads (None: the event loop's own),
    in a copy of the caller's context (what `asyncio.to_thread` does, without asgiref's
    bookkeeping of copying the context back), handing back its connections when done."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        executor, functools.partial(context.run, released(function), *args, **kwargs))


async def read(function: Callable[..., T], /, *args, **kwargs) -> T:
    """Run a synchronous read (a selector) from async code; its connection goes back at once.

    On the event loop's executor threads, not Django's one thread for synchronous code:
    the song views are served without a thread per request (config/short_requests.py), so
    on that one thread every visitor's read would wait for the one before, and with the
    database out of reach each waits out the pool's timeout in turn. SONG_VOTE_THREADS = 0
    (the test settings) keeps Django's thread, for the reason offload.py gives: a test
    wrapped in a transaction must see its own rows."""
    if settings.SONG_VOTE_THREADS <= 0:
        return await sync_to_async(released(function))(*args, **kwargs)
    return await on_threads(None, function, *args, **kwargs)
