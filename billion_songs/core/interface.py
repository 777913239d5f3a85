"""The one interface between the web/workers and the lyrics engine.

Callers ask a `LyricsGenerator` for songs by id; they never see tokens or models. The
real implementation is `billion_songs.core.generator.ModelLyricsGenerator`;
`billion_songs.core.fake.FakeLyricsGenerator` is a fast stand-in for web-layer tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, Union

from billion_songs.core.song import Song


@dataclass(frozen=True)
class TextDelta:
    """More raw text of the attempt being written."""

    text: str


@dataclass(frozen=True)
class Restart:
    """The attempt written so far failed a quality guard; a new attempt starts from empty."""

    reason: str


@dataclass(frozen=True)
class Finished:
    """The final, cleaned song: the same value `generate([id])[0]` returns."""

    song: Song


StreamEvent = Union[TextDelta, Restart, Finished]


class LyricsGenerator(Protocol):
    """Turns song ids into songs; a pure function of (id, model_version)."""

    @property
    def model_version(self) -> str: ...

    def generate(self, ids: Sequence[int], *, between_steps: Callable[[], None] | None = None) -> list[Song]:
        """Songs for `ids`, in the same order, batched internally.

        `between_steps` is called between decoding steps and may block: a low-priority
        caller (the pool filler) uses it to pause while visitors' songs are written.
        Implementations are safe to call from several threads at once."""
        ...

    def stream(self, song_id: int) -> Iterator[StreamEvent]:
        """Write one song token by token; the last event is always `Finished`."""
        ...
