import pytest

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.songwriting.plan import brief_for


def first_id(predicate, start: int = 0) -> int:
    """The first song id from `start` whose brief satisfies `predicate`."""
    song_id = start
    while not predicate(brief_for(song_id)):
        song_id += 1
    return song_id


@pytest.fixture(scope="session")
def fake():
    return FakeLyricsGenerator()
