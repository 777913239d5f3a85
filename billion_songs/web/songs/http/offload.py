"""Per-visitor writes (votes) off Django's one thread for synchronous code.

Under ASGI, Django runs every synchronous view, and every `sync_to_async` call with
`thread_sensitive=True` (the ORM's async API included), on one thread per process: a
process answers one vote at a time, whatever the number of connections, and votes queue
behind each other and behind every other synchronous view. `offloaded` runs a function
instead on a small pool of threads of its own (SONG_VOTE_THREADS), each with its own
database connection, which goes back (to the connection pool on PostgreSQL, closed on
SQLite) as soon as the function returns: no thread ever keeps one, so the number of
connections the votes hold stays at most SONG_VOTE_THREADS per process, which the
settings keep below the connection pool's size.

SONG_VOTE_THREADS = 0 keeps Django's thread: the test settings do that, so that a test
that wraps itself in a transaction sees the votes of the views it calls (another thread's
connection would not see the test's uncommitted rows).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings

from billion_songs.web.songs.data.reading import released


@functools.cache
def _executor(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="songs-votes")


def offloaded(function: Callable) -> Callable:
    """`function` as a coroutine function that runs it on the vote threads (or on Django's
    thread when SONG_VOTE_THREADS is 0)."""
    @functools.wraps(function)
    async def call(*args, **kwargs):
        threads = settings.SONG_VOTE_THREADS
        if threads <= 0:
            return await sync_to_async(function, thread_sensitive=True)(*args, **kwargs)
        return await sync_to_async(released(function), thread_sensitive=False,
                                   executor=_executor(threads))(*args, **kwargs)
    return call
