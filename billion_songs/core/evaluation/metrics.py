"""Text statistics of generated songs: degeneration, variety, shape, titles, artifacts.

All shares are in [0, 1] over the songs given. Words are the quality guards' words
(letters and inner apostrophes, lower-cased); lines are lyric lines (section labels such
as "[Chorus]" and blank lines not counted), as in billion_songs.core.guards.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from billion_songs.core.guards import _WORD, lyric_lines
from billion_songs.core.song import Song

LOOP_REASONS = ("repeated_line", "repetition_loop")  # guard reasons that mean a repetition loop
ARTIFACT_REASONS = ("chat_artifact",)  # guard reasons that mean chat talk instead of a song
# Template or chat leftovers that survived cleaning: role tokens, role headers, "Title:" lines,
# instruction tags, code fences, assistant talk.
_ARTIFACT = re.compile(
    r"<\|[^|>\s]{1,30}\|>|^\s*(assistant|user|system)\s*:?\s*$|^\s*(song )?(title|lyrics)\s*:|\[/?INST\]|```"
    r"|\bas an ai\b|\bhere(?: i|')s (?:a|the|your) (?:song|poem)\b",
    re.IGNORECASE | re.MULTILINE,
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams / all n-grams over the texts (Li et al., 2016), n-grams never
    crossing from one text to the next. 0.0 when there are none."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        grams = ngrams(words(text), n)
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


def is_degenerate(song: Song) -> bool:
    """The model's first attempt at the song was rejected as a repetition loop (later
    attempts are re-samples: the first one shows what the model does on its own)."""
    return bool(song.rejected) and song.rejected[0] in LOOP_REASONS


def has_artifacts(song: Song) -> bool:
    """An attempt was rejected as chat talk, or template text is left in the song."""
    if any(reason in ARTIFACT_REASONS for reason in song.rejected):
        return True
    return bool(_ARTIFACT.search(song.title) or _ARTIFACT.search(song.lyrics))


@dataclass(frozen=True)
class TextMetrics:
    songs: int
    degenerate: float  # share whose first attempt was a repetition loop
    failed: float  # share where every attempt failed the quality guards
    distinct_2: float  # distinct word bigrams / all bigrams (higher: more varied)
    distinct_3: float  # distinct word trigrams / all trigrams
    lines_per_song: float  # mean lyric lines per song
    words_per_line: float  # mean words per lyric line
    with_title: float  # share with a non-empty title
    artifacts: float  # share with chat or template artifacts
    rejections: dict  # guard reason -> rejected attempts, over all songs

    def as_dict(self) -> dict:
        return asdict(self)


def text_metrics(songs: Sequence[Song]) -> TextMetrics:
    if not songs:
        raise ValueError("no songs to measure")
    n = len(songs)
    lines = [lyric_lines(song.lyrics) for song in songs]
    line_count = sum(len(song_lines) for song_lines in lines)
    word_count = sum(len(words(line)) for song_lines in lines for line in song_lines)
    return TextMetrics(
        songs=n,
        degenerate=sum(map(is_degenerate, songs)) / n,
        failed=sum(not song.ok for song in songs) / n,
        distinct_2=distinct_n([song.lyrics for song in songs], 2),
        distinct_3=distinct_n([song.lyrics for song in songs], 3),
        lines_per_song=line_count / n,
        words_per_line=word_count / line_count if line_count else 0.0,
        with_title=sum(bool(song.title.strip()) for song in songs) / n,
        artifacts=sum(map(has_artifacts, songs)) / n,
        rejections=dict(sorted(Counter(r for song in songs for r in song.rejected).items())),
    )
