"""Reading a flight's events as a visitor's page does, with news published between looks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable


def read_with_news_between_looks(events_of: Callable[[], AsyncIterator], publish_news: Callable[[], None], *,
                                 to_the_end: bool = True) -> tuple[list, float]:
    """In a fresh event loop: the first event of `events_of()`, then `publish_news()` while
    the reader waits for its next look, then the next event (with `to_the_end`, every
    event to the last). Returns the events read and the seconds from the first event to
    the second."""
    async def read():
        loop = asyncio.get_running_loop()
        events = events_of()
        first, first_at = await anext(events), loop.time()
        reading = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.05)  # the reader is waiting for its next look
        publish_news()
        read = [first, await reading]
        gap = loop.time() - first_at
        if to_the_end:
            read += [event async for event in events]
        return read, gap

    return asyncio.run(read())
