"""Stored songs, the votes on them, their cached vote counts and the titles visitors
suggest for them.

A Song row is written once, when its id is first generated (by a visitor or by the pool
filler), and never changed afterwards except for `in_pool` and `hidden` (moderation): the
same id shows the same song forever, even after a new model is deployed (`model_version`
says which wrote it).

Vote counts are cached in SongTally (one row per voted song), kept exact by services.py:
every change to a song's votes happens in a transaction that holds that song's tally row
lock. The same goes for TitleSuggestion's own counts.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from billion_songs.core.melody.version import MELODY_VERSION
from billion_songs.web.songs.data.fields import SongIdField

_STANZA_BREAK = re.compile(r"\n\s*\n")
# The melody version of the songs stored before melodies (migration 0005), and of rows
# that code from before melodies inserts during a rolling deploy: the first melody model's.
FIRST_MELODY_VERSION = "essen-markov-1"


def current_melody_version() -> str:
    return MELODY_VERSION


class Song(models.Model):
    id = SongIdField(primary_key=True)
    title = models.TextField(blank=True)  # model output: no length assumptions
    lyrics = models.TextField(blank=True)
    model_version = models.CharField(max_length=200)
    ok = models.BooleanField(default=True)  # False: every attempt failed the quality guards
    failure_reason = models.TextField(blank=True)  # why, when not ok (the guards' verdicts)
    attempts = models.PositiveSmallIntegerField(default=1)
    # Generated ahead of time for Make Random and not yet served its share of times.
    # Lets a restarted server restore its pool from the database instead of starting empty.
    in_pool = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    # Hidden by a moderator: out of the pool and the charts, its page says it was removed.
    hidden = models.BooleanField(default=False)
    # The brief the song was written to (core Song.brief; tags on its page, and what
    # narrows Make Random). Blank for songs stored before briefs, or written without one.
    genre = models.CharField(max_length=100, blank=True, default="")
    mood = models.CharField(max_length=100, blank=True, default="")
    topic = models.CharField(max_length=200, blank=True, default="")
    form = models.CharField(max_length=100, blank=True, default="")  # a key of plan.FORMS
    # The kind of each stanza, space-separated ("verse chorus verse chorus"); blank: unknown.
    sections = models.TextField(blank=True, default="")
    # The melody model that composes the song's tune (core.melody.MELODY_VERSION when the
    # song is stored), kept like model_version so that its tune never changes.
    melody_version = models.CharField(max_length=100, default=current_melody_version,
                                      db_default=FIRST_MELODY_VERSION)

    class Meta:
        indexes = [
            # Pool restore reads the newest pooled songs; a partial index keeps it small.
            models.Index(fields=["-created"], condition=Q(in_pool=True), name="song_pooled_newest"),
            # Make Random narrowed to a tag, when the pool has no such song: the first
            # stored one at or after a random id (selectors.song_random_stored_id).
            models.Index(fields=["genre", "id"], name="song_genre_id"),
            models.Index(fields=["mood", "id"], name="song_mood_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.title!r}" if self.ok else f"#{self.id} (failed)"

    @property
    def stanzas(self) -> list[str]:
        """The lyrics split at blank lines, each stanza's lines kept."""
        return [s.strip("\n") for s in _STANZA_BREAK.split(self.lyrics.strip()) if s.strip()]

    @property
    def brief(self) -> dict | None:
        """{genre, mood, topic, form}, or None for a song stored without a brief."""
        if not (self.genre or self.mood or self.topic or self.form):
            return None
        return {"genre": self.genre, "mood": self.mood, "topic": self.topic, "form": self.form}

    @property
    def labelled_stanzas(self) -> list[tuple[str, str]]:
        """(kind, stanza) for each stanza; the kind is "" for every stanza when the
        sections are unknown (older songs) or do not line up with the stanzas."""
        stanzas = self.stanzas
        kinds = self.sections.split()
        if len(kinds) != len(stanzas):
            kinds = [""] * len(stanzas)
        return list(zip(kinds, stanzas))

    @property
    def section_list(self) -> list[dict]:
        """[{"kind", "lines"}] for each stanza, or [] when the sections are unknown."""
        return [{"kind": kind, "lines": stanza.split("\n")} for kind, stanza in self.labelled_stanzas if kind]

    @property
    def first_lines(self) -> list[str]:
        return [line.strip() for line in self.lyrics.splitlines() if line.strip()][:2]


class Vote(models.Model):
    """One visitor's vote on one song: +1 or -1. Withdrawing a vote deletes the row.
    Written only by services.py (which keeps SongTally exact)."""

    UP, DOWN = 1, -1

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="song_votes")
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="votes")
    value = models.SmallIntegerField(choices=[(UP, "up"), (DOWN, "down")])
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "song"], name="vote_one_per_user_per_song"),
            models.CheckConstraint(condition=Q(value__in=[1, -1]), name="vote_value_up_or_down"),
        ]
        indexes = [
            models.Index(fields=["song", "value"], name="vote_song_value"),
            models.Index(fields=["updated"], name="vote_updated"),  # this week's best
            models.Index(fields=["user", "-updated"], name="vote_user_newest"),  # My votes
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {'+' if self.value > 0 else '-'}1 on #{self.song_id}"


class SongTally(models.Model):
    """The cached vote counts of one song, and the two numbers the charts sort by. Written
    only by services.py, under this row's lock, in the transaction that changes a vote;
    `services.tallies_recount` rebuilds rows from the Vote table."""

    song = models.OneToOneField(Song, on_delete=models.CASCADE, primary_key=True, related_name="tally")
    up = models.PositiveIntegerField(default=0)
    down = models.PositiveIntegerField(default=0)
    score = models.IntegerField(default=0)  # up - down: the Top 10
    # The lower bound of the 95% Wilson score interval of the share of up votes: a song
    # with 900 up and 100 down (0.88) ranks above one lucky vote (1 up: 0.21).
    wilson = models.FloatField(default=0.0)
    # +1 on every change, under the row's lock: orders the copies of these counts that
    # the vote counts cache in Redis receives (shared/votes.py keeps the highest).
    revision = models.PositiveBigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["-score"], name="tally_score"),
            models.Index(fields=["-wilson"], name="tally_wilson"),
        ]

    def __str__(self) -> str:
        return f"#{self.song_id}: +{self.up} -{self.down}"


class TitleSuggestion(models.Model):
    """A title a signed-in visitor suggests for a song; one per visitor per song. Shown
    escaped, like all text from outside. Counts cached like SongTally's, under this row's
    lock."""

    MAX_LENGTH = 80

    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="title_suggestions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="title_suggestions")
    text = models.CharField(max_length=MAX_LENGTH)
    up = models.PositiveIntegerField(default=0)
    down = models.PositiveIntegerField(default=0)
    score = models.IntegerField(default=0)
    hidden = models.BooleanField(default=False)  # by a moderator
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "song"], name="suggestion_one_per_user_per_song"),
            models.UniqueConstraint(Lower("text"), "song", name="suggestion_text_unique_per_song"),
        ]
        indexes = [
            models.Index(fields=["song", "-score"], name="suggestion_song_best"),
            models.Index(fields=["user", "-created"], name="suggestion_user_newest"),  # rate limit
        ]

    def __str__(self) -> str:
        return f"{self.text!r} for #{self.song_id}"


class TitleSuggestionVote(models.Model):
    UP, DOWN = 1, -1

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="title_votes")
    suggestion = models.ForeignKey(TitleSuggestion, on_delete=models.CASCADE, related_name="votes")
    value = models.SmallIntegerField(choices=[(UP, "up"), (DOWN, "down")])
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "suggestion"], name="title_vote_one_per_user"),
            models.CheckConstraint(condition=Q(value__in=[1, -1]), name="title_vote_up_or_down"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {'+' if self.value > 0 else '-'}1 on suggestion {self.suggestion_id}"
