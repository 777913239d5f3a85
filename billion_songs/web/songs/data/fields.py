"""A model field for song ids, which span [0, 2**64-1]: one more bit than the signed
64-bit integers that SQLite and PostgreSQL store natively.

The column holds `id - 2**63`, a signed BIGINT (the mapping is monotonic, so ORDER BY and
range lookups keep their meaning); Python code only ever sees the real id. A DECIMAL(20)
column would not do on SQLite: its NUMERIC affinity turns integers above 2**63-1 into
8-byte floats, which round 2**64-1 and 2**64-2 to the same value.
"""

from __future__ import annotations

from django.core import validators
from django.db import models
from django.utils.functional import cached_property

from billion_songs.core.song import MAX_SONG_ID

OFFSET = 2**63  # stored = id - OFFSET, so 0 -> -2**63 and 2**64-1 -> 2**63-1


def to_stored(song_id: int) -> int:
    return int(song_id) - OFFSET


def from_stored(value: int) -> int:
    return int(value) + OFFSET


class _Stored(int):
    """A song id already mapped to its signed column value."""


class SongIdField(models.BigIntegerField):
    description = "Song id in [0, 2**64-1], stored as id - 2**63 in a signed 64-bit column"

    @cached_property
    def validators(self):
        # BigIntegerField would check the signed range against the *Python* value.
        return [validators.MinValueValidator(0), validators.MaxValueValidator(MAX_SONG_ID), *self._validators]

    def get_prep_value(self, value):
        # Django may prepare one value twice (a lookup through a ForeignKey prepares it for
        # the target field, then again for the relation), so the shifted value is tagged
        # and preparing it again is a no-op.
        if value is None or isinstance(value, _Stored):
            return value
        value = super().get_prep_value(value)
        return None if value is None else _Stored(to_stored(value))

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        return int(value) if isinstance(value, _Stored) else value  # a plain int for the driver

    def from_db_value(self, value, expression, connection):
        return None if value is None else from_stored(value)

    def formfield(self, **kwargs):
        return super().formfield(**{"min_value": 0, "max_value": MAX_SONG_ID, **kwargs})
