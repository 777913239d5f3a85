"""Songs, users and votes in the database, for the tests that need some."""

from __future__ import annotations

from django.contrib.auth.models import User

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.song import Song as GeneratedSong
from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import Song


def store(*ids: int, **changes) -> list[Song]:
    return [services.song_store(song=GeneratedSong(**{**song.__dict__, **changes}))
            for song in FakeLyricsGenerator().generate(ids)]


def users(count: int, prefix: str = "voter") -> list[User]:
    start = User.objects.count()
    return [User.objects.create_user(f"{prefix}{start + i}", password="pw") for i in range(count)]


def votes(song_id: int, *values: int) -> None:
    """One new user per value, each casting it."""
    for user, value in zip(users(len(values)), values):
        services.vote_cast(user=user, song_id=song_id, value=value)
