"""The page streamed while a song is written (songs/http/pages.py `writing_stream`): the
finished song, its tune composed and its page rendered off the event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.interface import TextDelta
from billion_songs.web.songs.data import services
from billion_songs.web.songs.generation.flights import Stored
from billion_songs.web.songs.http import pages

pytestmark = pytest.mark.django_db(transaction=True)


class _Written:
    """A flight that has written its song: a line of draft, then the stored song."""

    def __init__(self, song):
        self.song_id = song.id
        self.song = song

    async def events(self):
        yield TextDelta(text="a line <of> draft\n")
        yield Stored(song=self.song)


def test_the_finished_song_is_rendered_off_the_event_loop(monkeypatch):
    song = services.song_store(song=FakeLyricsGenerator().generate([8100])[0])
    composed_on: list[int] = []
    real = pages.song_context

    def recording(**kwargs):
        composed_on.append(threading.get_ident())
        return real(**kwargs)

    monkeypatch.setattr(pages, "song_context", recording)

    async def read_page():
        loop_thread = threading.get_ident()
        chunks = [chunk async for chunk in pages.writing_stream(flight=_Written(song), song_id=song.id,
                                                                 site_url="https://songs.example")]
        return loop_thread, b"".join(chunks).decode()

    loop_thread, page = asyncio.run(read_page())
    assert "a line &lt;of&gt; draft" in page
    assert song.title in page and "https://songs.example/song/8100" in page
    assert composed_on and loop_thread not in composed_on  # a tune takes 10-100 ms: not on the loop
