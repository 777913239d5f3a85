"""Writes. Each service is one transaction, takes keyword-only arguments and is named
<entity>_<action> (HackSoftware Django-Styleguide)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from billion_songs.core.song import Song as GeneratedSong
from billion_songs.web.songs.data.models import (
    Song,
    SongTally,
    TitleSuggestion,
    TitleSuggestionVote,
    Vote,
)
from billion_songs.web.songs.data.events import songs_visibility_changed
from billion_songs.web.songs.data.fields import to_stored
from billion_songs.web.songs.data.ranking import wilson_lower_bound
from billion_songs.web.songs.data import vote_counts, vote_function
from billion_songs.web.songs.data.tags import PoolEntry


def _row(song: GeneratedSong, *, in_pool: bool) -> Song:
    brief = song.brief
    return Song(
        id=song.id,
        title=song.title,
        lyrics=song.lyrics,
        model_version=song.model_version,
        ok=song.ok,
        failure_reason="" if song.ok else ", ".join(song.rejected) or "no attempt passed the quality guards",
        attempts=song.attempts,
        in_pool=in_pool and song.ok,  # a failed song is stored, never pooled
        genre=brief.genre if brief else "",
        mood=brief.mood if brief else "",
        topic=brief.topic if brief else "",
        form=brief.form if brief else "",
        sections=" ".join(song.form),  # the kind of each stanza; "" when the model gave none
    )


@transaction.atomic
def song_store(*, song: GeneratedSong, in_pool: bool = False) -> Song:
    """Store a generated song, or return the one already stored under its id: a stored
    song is never replaced, even if another process generated the id concurrently or a
    newer model wrote it differently."""
    stored, _ = Song.objects.get_or_create(pk=song.id, defaults=_field_values(_row(song, in_pool=in_pool)))
    return stored


def _field_values(row: Song) -> dict:
    return {f.attname: getattr(row, f.attname) for f in Song._meta.concrete_fields if not f.primary_key}


@transaction.atomic
def songs_store_for_pool(*, songs: Sequence[GeneratedSong]) -> list[PoolEntry]:
    """Store a batch from the pool filler; returns what the pool may take: the good songs
    it stored, with their tags. A failed song (ok=False) is stored but never pooled, and
    an id stored meanwhile by a visitor is left alone and not pooled."""
    already = set(Song.objects.filter(pk__in=[s.id for s in songs]).values_list("pk", flat=True))
    rows = [_row(s, in_pool=True) for s in songs if s.id not in already]
    Song.objects.bulk_create(rows, ignore_conflicts=True)
    # Read back rather than trust `rows`: on PostgreSQL a visitor's flight can store one of
    # these ids between the check above and the insert, which then skips it (conflict).
    pooled = {row.id for row in rows if row.in_pool}
    stored = Song.objects.filter(pk__in=list(pooled), in_pool=True, ok=True).values_list("pk", "genre", "mood")
    found = {song_id: PoolEntry(song_id, genre, mood) for song_id, genre, mood in stored}
    return [found[row.id] for row in rows if row.id in found]  # in batch order


@transaction.atomic
def songs_leave_pool(*, song_ids: Iterable[int]) -> int:
    """Mark songs as served their share of times, so a restart does not pool them again."""
    song_ids = list(song_ids)
    updated = 0
    for start in range(0, len(song_ids), 500):  # stay under SQLite's bound-parameter limit
        updated += Song.objects.filter(pk__in=song_ids[start : start + 500]).update(in_pool=False)
    return updated


# --- Votes, title suggestions, moderation ----------------------------------------------
#
# Every change to a song's votes runs in one transaction that first locks the song's
# SongTally row (creating it if needed), then reads the visitor's vote, writes it and
# adjusts the counts. The tally row is the song's mutex: on PostgreSQL concurrent voters
# on one song queue on its row lock (SELECT ... FOR UPDATE); on SQLite every write
# transaction is IMMEDIATE and so serialized anyway. One lock per transaction: no
# deadlocks. The unique constraint on (user, song) is the last line of defence. On
# PostgreSQL a vote on a song runs these steps inside the server, as one statement
# (data/vote_function.py).
#
# With REDIS_URL set, every committed tally is also copied to the vote counts cache in
# Redis (data/vote_counts.py), which the per-visitor fragment of every song page reads. The
# Vote rows stay the truth: `tallies_recount` and `selectors.tally_mismatches` rebuild
# and check the tallies from them.


class Unavailable(Exception):
    """No such song or suggestion to vote on: never stored, failed, or hidden."""


class Refused(Exception):
    """A request the visitor can fix; the message is for them."""


class RateLimited(Refused):
    pass


@dataclass(frozen=True)
class VoteChange:
    before: int  # +1, -1, or 0 for no vote
    after: int
    # (up, down) of what was voted on, as committed: the refreshed fragment shows them
    # without reading them again. Not part of the comparison.
    counts: tuple[int, int] | None = field(default=None, compare=False)


def _song_votable(song_id: int) -> None:
    row = Song.objects.filter(pk=song_id).values_list("ok", "hidden").first()
    if row is None or not row[0] or row[1]:
        raise Unavailable(f"song {song_id} cannot be voted on")


def _tally_locked(song_id: int) -> SongTally:
    # INSERT ... ON CONFLICT DO NOTHING, then lock: two first voters never both insert.
    SongTally.objects.bulk_create([SongTally(song_id=song_id)], ignore_conflicts=True)
    return SongTally.objects.select_for_update().get(song_id=song_id)


# The vote path is the site's hottest write: its statements are written out (one
# compiled query costs about as much Python as the round trip to the database) and run
# on the transaction's cursor. Vote and SongTally have no signals or save() overrides
# for the ORM to run instead; their ids are the stored ones (fields.to_stored).
def _vote_path_sql(connection) -> dict[str, str]:
    quote = connection.ops.quote_name
    tally, song, vote = (quote(m._meta.db_table) for m in (SongTally, Song, Vote))
    # FOR UPDATE OF the tally only: the song's row is read, not locked (PostgreSQL would
    # otherwise lock both rows of the join); SQLite has no FOR UPDATE, and serializes
    # write transactions anyway (IMMEDIATE).
    lock = " FOR UPDATE OF t" if connection.features.has_select_for_update_of else ""
    return {
        "tally_locked": f"SELECT t.up, t.down, t.revision FROM {tally} t INNER JOIN {song} s ON s.id = t.song_id "
                        f"WHERE t.song_id = %s AND s.ok = %s AND s.hidden = %s{lock}",
        "vote_get": f"SELECT id, value FROM {vote} WHERE user_id = %s AND song_id = %s",
        "vote_insert": f"INSERT INTO {vote} (user_id, song_id, value, created, updated) VALUES (%s, %s, %s, %s, %s)",
        "vote_update": f"UPDATE {vote} SET value = %s, updated = %s WHERE id = %s",
        "vote_delete": f"DELETE FROM {vote} WHERE id = %s",
        "tally_update": f"UPDATE {tally} SET up = %s, down = %s, score = %s, wilson = %s, revision = %s, "
                        f"updated = %s WHERE song_id = %s",
    }


_VOTE_PATH_SQL: dict[str, dict[str, str]] = {}


def _vote_sql(connection, name: str) -> str:
    statements = _VOTE_PATH_SQL.get(connection.vendor)
    if statements is None:
        statements = _VOTE_PATH_SQL[connection.vendor] = _vote_path_sql(connection)
    return statements[name]


def _votable_tally_locked(cursor, song_id: int) -> tuple[int, int, int]:
    """(up, down, revision) of the tally of a song that can be voted on, its row locked:
    one query when the song has one (every vote but its first); else the song is checked
    and its row made first. Raises Unavailable for a song that is missing, failed or
    hidden."""
    cursor.execute(_vote_sql(cursor.db, "tally_locked"), [to_stored(song_id), True, False])
    row = cursor.fetchone()
    if row is None:
        _song_votable(song_id)
        tally = _tally_locked(song_id)
        return tally.up, tally.down, tally.revision
    return row


def _count(counted, value: int, sign: int) -> None:
    """Add (sign=+1) or remove (sign=-1) one vote of `value` on something with up/down/score."""
    if value == 1:
        counted.up += sign
    elif value == -1:
        counted.down += sign
    counted.score = counted.up - counted.down


def _vote_value_check(value: int) -> None:
    if value not in (1, -1, 0):
        raise ValueError(f"a vote is +1, -1 or 0, not {value!r}")


def _vote_set(model, *, value: int, **key) -> int:
    """Make the one vote row of `model` matching `key` (a visitor and what they vote on)
    say `value`: created, changed, or deleted for 0. Returns the value it had before (0
    for none). The caller holds the lock of what is voted on."""
    vote = model.objects.filter(**key).first()
    before = vote.value if vote else 0
    if before != value:
        if value == 0:
            vote.delete()
        elif vote is None:
            model.objects.create(**key, value=value)
        else:
            vote.value = value
            vote.save()  # Vote's `updated` (auto_now) moves with it
    return before


def _tally_save(tally: SongTally) -> None:
    tally.wilson = wilson_lower_bound(tally.up, tally.down)
    tally.revision += 1
    tally.save(update_fields=["up", "down", "score", "wilson", "revision", "updated"])
    if settings.REDIS_URL:  # the counts every page's /me fragment reads, once committed
        song_id, up, down, revision = tally.song_id, tally.up, tally.down, tally.revision
        transaction.on_commit(lambda: vote_counts.counts_set(song_id=song_id, up=up, down=down, revision=revision))


def vote_cast(*, user, song_id: int, value: int) -> VoteChange:
    """The visitor's vote on a song becomes `value`: +1 (up), -1 (down) or 0 (withdrawn).
    Casting the same vote again changes nothing, so casting it twice is safe. On
    PostgreSQL one statement (data/vote_function.py); elsewhere four in a transaction: the
    tally locked, the visitor's vote read, then written, and the tally written (the same as
    `_vote_set` and `_tally_save` do through the ORM, which the rarer writes use)."""
    _vote_value_check(value)
    connection = transaction.get_connection()
    cast = _vote_cast_function if connection.vendor == "postgresql" else _vote_cast_statements
    before, up, down, revision = cast(connection, user.pk, song_id, value)
    if before != value and settings.REDIS_URL:  # the counts every page's /me fragment reads, once committed
        transaction.on_commit(lambda: vote_counts.counts_set(song_id=song_id, up=up, down=down, revision=revision))
    return VoteChange(before, value, counts=(up, down))


def _vote_cast_function(connection, user_id: int, song_id: int, value: int) -> tuple[int, int, int, int]:
    """(before, up, down, revision): one call of songs_vote_cast, its own transaction
    unless the caller is in one."""
    with connection.cursor() as cursor:
        cursor.execute(_VOTE_FUNCTION_CALL, [user_id, to_stored(song_id), value, timezone.now()])
        row = cursor.fetchone()
    if row is None:
        raise Unavailable(f"song {song_id} cannot be voted on")
    return row


_VOTE_FUNCTION_CALL = f"SELECT before, up, down, revision FROM {vote_function.NAME}(%s, %s, %s, %s)"


@transaction.atomic
def _vote_cast_statements(connection, user_id: int, song_id: int, value: int) -> tuple[int, int, int, int]:
    """(before, up, down, revision), in four statements on the transaction's cursor."""
    stored_id = to_stored(song_id)
    with connection.cursor() as cursor:
        up, down, revision = _votable_tally_locked(cursor, song_id)
        cursor.execute(_vote_sql(connection, "vote_get"), [user_id, stored_id])
        row = cursor.fetchone()
        vote_id, before = row if row else (None, 0)
        if before == value:
            return before, up, down, revision
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        if value == 0:
            cursor.execute(_vote_sql(connection, "vote_delete"), [vote_id])
        elif vote_id is None:
            cursor.execute(_vote_sql(connection, "vote_insert"), [user_id, stored_id, value, now, now])
        else:
            cursor.execute(_vote_sql(connection, "vote_update"), [value, now, vote_id])
        up += (value == 1) - (before == 1)
        down += (value == -1) - (before == -1)
        revision += 1
        cursor.execute(_vote_sql(connection, "tally_update"),
                       [up, down, up - down, wilson_lower_bound(up, down), revision, now, stored_id])
    return before, up, down, revision


@transaction.atomic
def tallies_recount(*, song_ids: Iterable[int] | None = None) -> int:
    """Rebuild the cached counts from the Vote rows, for the songs given or for every song
    with votes or a tally. Returns how many tallies changed. Run after votes were deleted
    outside the services (a user deleted), and as the check of any faster counter."""
    if song_ids is None:
        song_ids = set(SongTally.objects.values_list("song_id", flat=True))
        song_ids |= set(Vote.objects.values_list("song_id", flat=True).distinct())
    changed = 0
    for song_id in sorted(set(song_ids)):  # one lock order for every recount
        if not Song.objects.filter(pk=song_id).exists():
            continue
        tally = _tally_locked(song_id)
        counts = Vote.objects.filter(song_id=song_id).aggregate(
            up=Count("pk", filter=Q(value=Vote.UP)), down=Count("pk", filter=Q(value=Vote.DOWN)))
        if (tally.up, tally.down) != (counts["up"], counts["down"]) or tally.score != tally.up - tally.down:
            tally.up, tally.down = counts["up"], counts["down"]
            tally.score = tally.up - tally.down
            _tally_save(tally)
            changed += 1
    return changed


@transaction.atomic
def votes_delete(*, vote_ids: Iterable[int]) -> int:
    """Delete votes (a moderator removing abuse) and correct the counts."""
    votes = Vote.objects.filter(pk__in=list(vote_ids))
    song_ids = set(votes.values_list("song_id", flat=True))
    deleted, _ = votes.delete()
    tallies_recount(song_ids=song_ids)
    return deleted


def title_normalize(text: str) -> str:
    """One line, single spaces, no control or format characters (no bidi overrides)."""
    text = "".join(" " if ch.isspace() else ch for ch in text
                   if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf"))
    return " ".join(text.split())


@transaction.atomic
def title_suggestion_create(*, user, song_id: int, text: str) -> TitleSuggestion:
    """A signed-in visitor suggests a title: one per visitor per song, at most
    TITLE_SUGGESTION_MAX_LENGTH characters, at most TITLE_SUGGESTIONS_PER_HOUR an hour."""
    text = title_normalize(text)
    limit = settings.TITLE_SUGGESTION_MAX_LENGTH
    if not text:
        raise Refused("Write a title first.")
    if len(text) > limit:
        raise Refused(f"A title can be at most {limit} characters long.")
    _song_votable(song_id)
    # Lock the visitor's row: their concurrent suggestions queue, so the rate holds exactly.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    since = timezone.now() - timedelta(hours=1)
    if TitleSuggestion.objects.filter(user=user, created__gte=since).count() >= settings.TITLE_SUGGESTIONS_PER_HOUR:
        raise RateLimited("You have suggested many titles in the last hour. Try again later.")
    if TitleSuggestion.objects.filter(user=user, song_id=song_id).exists():
        raise Refused("You already suggested a title for this song.")
    if TitleSuggestion.objects.filter(song_id=song_id, text__iexact=text).exists():
        raise Refused("Someone already suggested that title. Vote for it instead.")
    try:
        with transaction.atomic():
            return TitleSuggestion.objects.create(user=user, song_id=song_id, text=text)
    except IntegrityError as error:  # the same title, suggested by someone else just now
        raise Refused("Someone already suggested that title. Vote for it instead.") from error


@transaction.atomic
def title_suggestion_vote(*, user, suggestion_id: int, value: int) -> VoteChange:
    """Like `vote_cast`, for a title suggestion; its own row is the lock. Nobody votes
    on their own suggestion (Refused)."""
    _vote_value_check(value)
    suggestion = TitleSuggestion.objects.select_for_update().filter(pk=suggestion_id).first()
    if suggestion is None or suggestion.hidden:
        raise Unavailable(f"suggestion {suggestion_id} cannot be voted on")
    if suggestion.user_id == user.pk:
        raise Refused("You cannot vote on your own suggestion.")
    _song_votable(suggestion.song_id)
    before = _vote_set(TitleSuggestionVote, value=value, user=user, suggestion=suggestion)
    if before == value:
        return VoteChange(before, value)
    _count(suggestion, before, -1)
    _count(suggestion, value, +1)
    suggestion.save(update_fields=["up", "down", "score"])
    return VoteChange(before, value)


@transaction.atomic
def title_suggestions_recount(*, suggestion_ids: Iterable[int]) -> int:
    changed = 0
    for suggestion in TitleSuggestion.objects.select_for_update().filter(pk__in=list(suggestion_ids)).order_by("pk"):
        counts = suggestion.votes.aggregate(up=Count("pk", filter=Q(value=1)), down=Count("pk", filter=Q(value=-1)))
        if (suggestion.up, suggestion.down) != (counts["up"], counts["down"]):
            suggestion.up, suggestion.down = counts["up"], counts["down"]
            suggestion.score = suggestion.up - suggestion.down
            suggestion.save(update_fields=["up", "down", "score"])
            changed += 1
    return changed


@transaction.atomic
def songs_hide(*, song_ids: Iterable[int], hidden: bool = True) -> int:
    """Hide songs (or show them again): a hidden song leaves the pool and the charts and
    its page says it was removed. When the change commits, `songs_visibility_changed` is
    sent: its receivers purge the cached pages and take the songs out of the pool."""
    song_ids = list(song_ids)
    changes = {"hidden": hidden, **({"in_pool": False} if hidden else {})}
    updated = Song.objects.filter(pk__in=song_ids).update(**changes)
    transaction.on_commit(lambda: songs_visibility_changed.send(sender=Song, song_ids=song_ids, hidden=hidden))
    return updated


@transaction.atomic
def title_suggestions_hide(*, suggestion_ids: Iterable[int], hidden: bool = True) -> int:
    """Hide suggestions (or show them again). They appear only in the per-visitor part of
    a song page, which is never cached, so nothing needs purging."""
    return TitleSuggestion.objects.filter(pk__in=list(suggestion_ids)).update(hidden=hidden)


def user_votes_prepare_delete(*, user) -> dict:
    """What a user's deletion will change, read before it (see signals.py)."""
    return {
        "song_ids": list(Vote.objects.filter(user=user).values_list("song_id", flat=True)),
        "suggestion_ids": list(TitleSuggestionVote.objects.filter(user=user)
                               .exclude(suggestion__user=user).values_list("suggestion_id", flat=True)),
    }


@transaction.atomic
def user_votes_after_delete(*, song_ids: list[int], suggestion_ids: list[int]) -> None:
    """Correct the counts after a user and (by cascade) their votes were deleted."""
    tallies_recount(song_ids=song_ids)
    title_suggestions_recount(suggestion_ids=suggestion_ids)
