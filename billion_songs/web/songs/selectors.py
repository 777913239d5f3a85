"""Reads. Every function takes keyword-only arguments and returns plain values or
unsaved-by-the-caller model instances; none writes."""

from __future__ import annotations

import random as _random

from django.db.models import Sum

from billion_songs.core.song import MAX_SONG_ID
from billion_songs.web.songs.models import Song, Vote


def song_get(*, song_id: int) -> Song | None:
    return Song.objects.filter(pk=song_id).first()


def song_ids_stored(*, song_ids: list[int]) -> set[int]:
    return set(Song.objects.filter(pk__in=song_ids).values_list("pk", flat=True))


def song_random_stored_id(*, rng: _random.Random | None = None) -> int | None:
    """A stored, successfully written song, roughly uniformly: the first stored id at or
    after a random point of the id space (wrapping around). One index probe instead of
    ORDER BY RANDOM(), which reads every row; songs after a wide gap come up more often,
    which is fine for a fallback."""
    start = (rng or _random).randint(0, MAX_SONG_ID)
    ok_songs = Song.objects.filter(ok=True).order_by("pk").values_list("pk", flat=True)
    return ok_songs.filter(pk__gte=start).first() or ok_songs.first()


def song_ids_pooled(*, limit: int) -> list[int]:
    """The newest songs still in the pool, to restore it after a restart."""
    return list(
        Song.objects.filter(in_pool=True, ok=True).order_by("-created").values_list("pk", flat=True)[:limit]
    )


def song_scores_voted_up(*, limit: int) -> list[tuple[int, int]]:
    """(song id, net score) of the best songs with a positive net score, best first."""
    rows = (
        Vote.objects.values("song_id")
        .annotate(score=Sum("value"))
        .filter(score__gt=0)
        .order_by("-score", "song_id")[:limit]
    )
    return [(row["song_id"], row["score"]) for row in rows]


def song_vote_summary(*, song_id: int, user) -> dict:
    """Counts and the visitor's own vote, for the per-user (never publicly cached) part."""
    votes = Vote.objects.filter(song_id=song_id)
    up = votes.filter(value=Vote.UP).count()
    down = votes.filter(value=Vote.DOWN).count()
    mine = None
    if user is not None and user.is_authenticated:
        mine = votes.filter(user=user).values_list("value", flat=True).first()
    return {"up": up, "down": down, "score": up - down, "mine": mine}
