"""A fast, model-free LyricsGenerator for tests of the web layer and the workers.

It honours the same contract as the real one (a pure function of the id, streaming ends
with the same song `generate` returns) so that web tests exercise real behaviour; only the
words are cheap. The real model is exercised by its own tests.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence

from billion_songs.core.interface import Finished, Restart, StreamEvent, TextDelta
from billion_songs.core.song import Section, Song, lyrics_of
from billion_songs.core.songwriting.plan import plan_song

_WORDS = (
    "river night light heart road rain fire home train morning silver dream city "
    "summer shadow window ocean dust highway thunder candle garden whisper echo"
).split()


class FakeLyricsGenerator:
    """Deterministic toy songs. `line_delay` slows streaming to test "first line fast",
    `song_delay` slows `generate` (seconds per song, paced between steps) to test a batch
    interrupted midway; ids in `failing_ids` produce a failed song (ok=False), like a model that never
    passed its quality guards."""

    def __init__(self, *, model_version: str = "fake-1", line_delay: float = 0.0, song_delay: float = 0.0,
                 failing_ids: frozenset[int] = frozenset()):
        self._model_version = model_version
        self.line_delay = line_delay
        self.song_delay = song_delay
        self.failing_ids = failing_ids
        self.generated_ids: list[int] = []  # every id generated, for single-flight tests

    @property
    def model_version(self) -> str:
        return self._model_version

    def _words(self, song_id: int, count: int) -> list[str]:
        digest = hashlib.sha256(f"{self._model_version}:{song_id}".encode()).digest()
        return [_WORDS[digest[i % len(digest)] % len(_WORDS)] for i in range(count)]

    def _song(self, song_id: int) -> Song:
        self.generated_ids.append(song_id)
        if song_id in self.failing_ids:
            return Song(id=song_id, title="", lyrics="", model_version=self._model_version,
                        ok=False, attempts=3, rejected=("too_short",) * 3)
        # The real decoder's plan (brief and form), toy words: verses differ, the chorus
        # opens with the title and comes back word for word.
        plan = plan_song(song_id)
        words = self._words(song_id, 64)
        title = f"{words[0].title()} {words[1].title()}"
        sections: list[Section] = []
        for index, section in enumerate(plan.sections):
            if section.sings is not None:
                sections.append(Section(section.kind, sections[section.sings].lines))
                continue
            lines = [" ".join(words[(index * 12 + i * 5 + k) % 64] for k in range(4)).capitalize()
                     for i in range(len(section.lines))]
            if section.kind == "chorus":
                lines[0] = f"{title} {lines[0].lower()}"
            sections.append(Section(section.kind, tuple(lines)))
        return Song(id=song_id, title=title, lyrics=lyrics_of(tuple(sections)), model_version=self._model_version,
                    brief=plan.brief, sections=tuple(sections))

    def generate(self, ids: Sequence[int], *, between_steps: Callable[[], None] | None = None) -> list[Song]:
        songs = []
        for song_id in ids:
            if between_steps is not None:
                between_steps()
            if self.song_delay:
                time.sleep(self.song_delay)
            songs.append(self._song(song_id))
        return songs

    def stream(self, song_id: int) -> Iterator[StreamEvent]:
        song = self._song(song_id)
        if not song.ok:
            yield Restart(reason="too_short")
        else:
            for line in f"{song.title}\n\n{song.lyrics}".split("\n"):
                if self.line_delay:
                    time.sleep(self.line_delay)
                yield TextDelta(line + "\n")
        yield Finished(song)
