"""Reads from the database. Every function takes keyword-only arguments and returns plain
values or model instances; none writes (the vote counts, read through a Redis cache that
the read fills, are in vote_counts.py)."""

from __future__ import annotations

import random as _random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from billion_songs.core.song import MAX_SONG_ID
from billion_songs.web.songs.data.fields import to_stored
from billion_songs.web.songs.data.models import (
    Song,
    SongTally,
    TitleSuggestion,
    TitleSuggestionVote,
    Vote,
)
from billion_songs.web.songs.data.tags import ANY, Narrowing, PoolEntry


def song_get(*, song_id: int) -> Song | None:
    return Song.objects.filter(pk=song_id).first()


def song_ids_stored(*, song_ids: list[int]) -> set[int]:
    return set(Song.objects.filter(pk__in=song_ids).values_list("pk", flat=True))


def song_random_stored_id(*, rng: _random.Random | None = None, narrowing: Narrowing = ANY) -> int | None:
    """A stored, successfully written song, roughly uniformly: the first stored id at or
    after a random point of the id space (wrapping around). One index probe instead of
    ORDER BY RANDOM(), which reads every row; songs after a wide gap come up more often,
    which is fine for a fallback. With a narrowing, only songs of that genre and mood (the
    (genre, id) and (mood, id) indexes)."""
    start = (rng or _random).randint(0, MAX_SONG_ID)
    ok_songs = Song.objects.filter(ok=True, hidden=False)
    if narrowing.genre:
        ok_songs = ok_songs.filter(genre=narrowing.genre)
    if narrowing.mood:
        ok_songs = ok_songs.filter(mood=narrowing.mood)
    ok_songs = ok_songs.order_by("pk").values_list("pk", flat=True)
    return ok_songs.filter(pk__gte=start).first() or ok_songs.first()


def song_pool_entries(*, limit: int) -> list[PoolEntry]:
    """The newest good songs still in the pool, with their tags, to restore it after a
    restart. Failed and hidden songs never come back into the pool."""
    rows = (Song.objects.filter(in_pool=True, ok=True, hidden=False).order_by("-created")
            .values_list("pk", "genre", "mood")[:limit])
    return [PoolEntry(song_id, genre, mood) for song_id, genre, mood in rows]


class VotedSong(NamedTuple):
    song_id: int
    score: int
    genre: str
    mood: str


def song_scores_voted_up(*, limit: int) -> list[VotedSong]:
    """The best visible songs with a positive net score, best first, with their tags:
    what Make Random's voted share draws from, weighted by the score."""
    rows = (SongTally.objects.filter(score__gt=0, song__hidden=False)
            .order_by("-score", "song_id").values_list("song_id", "score", "song__genre", "song__mood")[:limit])
    return [VotedSong(*row) for row in rows]


def song_visibility(*, song_id: int) -> str:
    """"missing" (never stored), "hidden", "failed" or "ok"."""
    row = Song.objects.filter(pk=song_id).values_list("ok", "hidden").first()
    if row is None:
        return "missing"
    ok, hidden = row
    return "hidden" if hidden else "ok" if ok else "failed"


# --- Charts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartEntry:
    song_id: int
    title: str
    up: int
    down: int
    score: int
    wilson: float = 0.0


def _visible_tallies():
    return SongTally.objects.filter(song__hidden=False, song__ok=True)


def _entries(rows) -> list[ChartEntry]:
    return [ChartEntry(song_id=r["song_id"], title=r["song__title"], up=r["up"], down=r["down"],
                       score=r["score"], wilson=r.get("wilson", 0.0)) for r in rows]


_CHART_FIELDS = ("song_id", "song__title", "up", "down", "score", "wilson")


def chart_top(*, limit: int = 10) -> list[ChartEntry]:
    """The Top 10: the highest net scores (up - down); ties go to more up votes."""
    rows = _visible_tallies().filter(score__gt=0).order_by("-score", "-up", "song_id").values(*_CHART_FIELDS)
    return _entries(rows[:limit])


def chart_best_rated(*, limit: int = 10) -> list[ChartEntry]:
    """Ranked by the Wilson lower bound of the share of up votes: confidence, not luck."""
    rows = _visible_tallies().filter(up__gt=0).order_by("-wilson", "-up", "song_id").values(*_CHART_FIELDS)
    return _entries(rows[:limit])


def chart_week(*, limit: int = 10, now: datetime | None = None) -> list[ChartEntry]:
    """This week's best: net score of the votes cast or changed in the last 7 days."""
    since = (now or timezone.now()) - timedelta(days=7)
    rows = (Vote.objects.filter(updated__gte=since, song__hidden=False, song__ok=True)
            .values("song_id", "song__title")
            .annotate(up=Count("pk", filter=Q(value=Vote.UP)), down=Count("pk", filter=Q(value=Vote.DOWN)),
                      score=Sum("value"))
            .filter(score__gt=0).order_by("-score", "-up", "song_id"))
    return _entries(rows[:limit])


@dataclass(frozen=True)
class MyVote:
    song_id: int
    title: str
    value: int
    updated: datetime
    removed: bool


def user_votes(*, user, limit: int = 50, offset: int = 0) -> list[MyVote]:
    """"My votes": the visitor's votes, latest first."""
    rows = (Vote.objects.filter(user=user).order_by("-updated", "-pk")
            .values("song_id", "song__title", "song__hidden", "value", "updated")[offset:offset + limit])
    return [MyVote(song_id=r["song_id"], title=r["song__title"], value=r["value"], updated=r["updated"],
                   removed=r["song__hidden"]) for r in rows]


def user_activity(*, user) -> dict:
    """For the profile page."""
    votes = Vote.objects.filter(user=user).aggregate(up=Count("pk", filter=Q(value=Vote.UP)),
                                                     down=Count("pk", filter=Q(value=Vote.DOWN)))
    return {**votes, "suggestions": TitleSuggestion.objects.filter(user=user).count()}


# --- Title suggestions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    id: int
    text: str
    up: int
    down: int
    score: int
    mine: bool  # suggested by this visitor
    my_vote: int | None


@dataclass(frozen=True)
class SongSuggestions:
    """What the per-visitor part of a song page shows of its title suggestions."""
    listed: list[Suggestion]  # title_suggestions()
    best: TitleSuggestion | None  # title_suggestion_best()
    has_suggested: bool  # the visitor suggested one (even one hidden since)


def _suggestions_sql(connection) -> str:
    # Written out: this read is part of every vote's refreshed fragment, and compiling it
    # through the ORM cost more Python than the query itself.
    table = connection.ops.quote_name(TitleSuggestion._meta.db_table)
    return (f"SELECT id, song_id, user_id, text, up, down, score, hidden, created FROM {table} "
            f"WHERE song_id = %s AND (hidden = %s OR user_id = %s) "
            f"ORDER BY CASE WHEN user_id = %s THEN 0 ELSE 1 END, score DESC, created, id LIMIT %s")


def _listed(song_id: int, user, limit: int) -> tuple[list[Suggestion], bool]:
    """The top `limit` visible suggestions, and the visitor's own (one per visitor and
    song) after them when it is visible but not among them; read in one query: the own
    row first (hidden or not), then the best visible others."""
    signed_in = user is not None and user.is_authenticated
    ranking = lambda s: (-s.score, s.created, s.pk)  # noqa: E731  the ORDER BY's, for the own row
    own = None
    if signed_in:
        rows = list(TitleSuggestion.objects.raw(
            _suggestions_sql(connection), [to_stored(song_id), False, user.pk, user.pk, limit + 1]))
        if rows and rows[0].user_id == user.pk:
            own = rows.pop(0)
        rows = rows[:limit]  # the best visible others
        if own is not None and not own.hidden:
            # Where the own row ranks among the others: in the top `limit`, or after them.
            ranked = sorted([*rows, own], key=ranking)
            rows = ranked[:limit] if own in ranked[:limit] else [*rows, own]
    else:
        rows = list(TitleSuggestion.objects.filter(song_id=song_id, hidden=False)
                    .order_by("-score", "created", "pk")[:limit])
    my_votes = {}
    if signed_in and rows:
        my_votes = dict(TitleSuggestionVote.objects.filter(user=user, suggestion__in=[s.pk for s in rows])
                        .values_list("suggestion_id", "value"))
    return [Suggestion(id=s.pk, text=s.text, up=s.up, down=s.down, score=s.score,
                       mine=signed_in and s.user_id == user.pk, my_vote=my_votes.get(s.pk)) for s in rows], own is not None


def title_suggestions(*, song_id: int, user=None, limit: int = 5) -> list[Suggestion]:
    """The best visible suggestions for a song, with the visitor's own votes on them;
    the visitor's own suggestion is always included."""
    return _listed(song_id, user, limit)[0]


def song_suggestions(*, song_id: int, user=None, limit: int = 5) -> SongSuggestions:
    """The listed suggestions, the best and whether the visitor suggested one, in as few
    queries as it takes: one for a song without suggestions (signed in or not)."""
    listed, has_suggested = _listed(song_id, user, limit)
    # The best has a positive score, so it is listed with one when there is one at all.
    best = title_suggestion_best(song_id=song_id) if any(s.score > 0 for s in listed) else None
    return SongSuggestions(listed=listed, best=best, has_suggested=has_suggested)


def _other_voters() -> Count:
    # Voters other than the suggestion's author: a vote on one's own suggestion, cast
    # before those were refused, still counts in its score but not here.
    return Count("votes", filter=~Q(votes__user_id=F("user_id")))


def title_suggestion_best(*, song_id: int) -> TitleSuggestion | None:
    """The suggestion shown beside the generated title ("Listeners' title"): the highest
    net score, at least +1, among those that at least TITLE_SUGGESTION_MIN_VOTERS other
    listeners voted on (so nobody publishes a title of their own with one friend's vote);
    the earliest wins a tie."""
    return (TitleSuggestion.objects.filter(song_id=song_id, hidden=False, score__gt=0)
            .annotate(voters=_other_voters()).filter(voters__gte=settings.TITLE_SUGGESTION_MIN_VOTERS)
            .order_by("-score", "created", "pk").first())


def title_suggestion_song_id(*, suggestion_id: int) -> int | None:
    return TitleSuggestion.objects.filter(pk=suggestion_id).values_list("song_id", flat=True).first()


# --- Checks --------------------------------------------------------------------------------


def tally_mismatches(*, song_ids: list[int] | None = None) -> list[tuple[int, tuple, tuple]]:
    """(song id, cached (up, down, score), counted (up, down, score)) for every song whose
    cached counts differ from its Vote rows: empty when the counts are exact."""
    counted = Vote.objects.values("song_id").annotate(
        up=Count("pk", filter=Q(value=Vote.UP)), down=Count("pk", filter=Q(value=Vote.DOWN)))
    tallies = SongTally.objects.all()
    if song_ids is not None:
        counted, tallies = counted.filter(song_id__in=song_ids), tallies.filter(song_id__in=song_ids)
    truth = {r["song_id"]: (r["up"], r["down"], r["up"] - r["down"]) for r in counted}
    cached = {t.song_id: (t.up, t.down, t.score) for t in tallies}
    zero = (0, 0, 0)
    return [(song_id, cached.get(song_id, zero), truth.get(song_id, zero))
            for song_id in sorted(set(truth) | set(cached)) if cached.get(song_id, zero) != truth.get(song_id, zero)]
