"""Stored songs and the votes on them.

A Song row is written once, when its id is first generated (by a visitor or by the pool
filler), and never changed afterwards except for `in_pool`: the same id shows the same
song forever, even after a new model is deployed (`model_version` says which wrote it).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billion_songs.web.songs.fields import SongIdField

_STANZA_BREAK = re.compile(r"\n\s*\n")


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

    class Meta:
        indexes = [
            # Pool restore reads the newest pooled songs; a partial index keeps it small.
            models.Index(fields=["-created"], condition=Q(in_pool=True), name="song_pooled_newest"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.title!r}" if self.ok else f"#{self.id} (failed)"

    @property
    def stanzas(self) -> list[str]:
        """The lyrics split at blank lines, each stanza's lines kept."""
        return [s.strip("\n") for s in _STANZA_BREAK.split(self.lyrics.strip()) if s.strip()]

    @property
    def first_lines(self) -> list[str]:
        return [line.strip() for line in self.lyrics.splitlines() if line.strip()][:2]


class Vote(models.Model):
    """One visitor's vote on one song: +1 or -1. Withdrawing a vote deletes the row.
    Issue 4 builds the voting itself; Make Random already draws from voted-up songs."""

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
        indexes = [models.Index(fields=["song", "value"], name="vote_song_value")]

    def __str__(self) -> str:
        return f"{self.user_id} {'+' if self.value > 0 else '-'}1 on #{self.song_id}"
