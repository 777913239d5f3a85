"""Work that must not hold up the event loop: per-visitor writes (votes) off Django's one
thread for synchronous code, and rendering a stored song's page or tune off the loop.

Under ASGI, Django runs every synchronous view, and every `sync_to_async` call with
`thread_sensitive=True` (the ORM's async API included), on one thread per process: a
process answers one vote at a time, whatever the number of connections, and votes queue
behind each other and behind every other synchronous view. `offloaded` runs a function
instead on a small pool of threads of its own (SONG_VOTE_THREADS), each with its own
database connection, which goes back (to the connection pool on PostgreSQL, closed on
SQLite) as soon as the function returns: no thread ever keeps one, so the number of
connections the votes hold stays at most SONG_VOTE_THREADS per process, which the
settings keep below the connection pool's size.

The call hands the function to the pool with `loop.run_in_executor`, in a copy of the
caller's context (data/reading.on_threads), rather than through asgiref's
`sync_to_async`: that one compares and copies every context variable back after each call
(in a profile of votes, about half as much Python as the vote's own statement), and
nothing the function sets in its context is needed back: it returns its response.

`rendered` runs a page's rendering (the template and the song's tune, composed note by
note: 10 ms for most songs, up to 100 ms) on the event loop's own executor threads: on the
loop it stopped every other request of the process for that long, cached pages included;
on a thread the loop goes on between the render's slices of the GIL.

SONG_VOTE_THREADS = 0 keeps Django's thread: the test settings do that, so that a test
that wraps itself in a transaction sees the votes of the views it calls (another thread's
connection would not see the test's uncommitted rows).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings

from billion_songs.web.songs.data.reading import on_threads

T = TypeVar("T")


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
        return await on_threads(_executor(threads), function, *args, **kwargs)
    return call


async def rendered(function: Callable[..., T], /, *args) -> T:
    """`function(*args)` (a page's or a tune's rendering) on the event loop's executor
    threads, in a copy of the caller's context; any database connection it opened goes
    back when it returns."""
    return await on_threads(None, function, *args)
