"""Quality guards: reasons to reject a generated song and try again.

Each check returns a short reason code, stored with the song when every attempt fails
(and counted by `eval`). The thresholds leave room for choruses, which repeat on purpose.
"""

from __future__ import annotations

import re

from billion_songs.core.postprocess import _CHAT_LINE, _SECTION

MIN_LINES = 4  # lyric lines, section labels not counted
MIN_WORDS = 20
MIN_DISTINCT_BIGRAMS = 0.4  # share of word bigrams that are distinct; loops fall far below
MAX_SAME_LINE_RUN = 3  # the same line this many times in a row is a loop
MAX_LINE_SHARE = 0.35  # one line may not be more than this share of all lines (choruses are less)
MAX_WORDS_PER_LINE = 16  # on average: more is prose about a song, not a song
MAX_PHRASE_REPEATS = 4  # "I'm going, I'm going, I'm going, I'm going" within one line

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_PHRASE_LOOP = re.compile(r"(\b.{2,40}?)(?:[\s,;.!-]*\1){%d,}" % (MAX_PHRASE_REPEATS - 1), re.IGNORECASE)


def lyric_lines(lyrics: str) -> list[str]:
    return [line for line in lyrics.split("\n") if line.strip() and not _SECTION.match(line)]


def check_song(title: str, lyrics: str) -> str | None:
    """None when the song is fine, else the reason code of the first failed check."""
    lines = lyric_lines(lyrics)
    words = _WORD.findall(lyrics.lower())
    if not lines:
        return "empty"
    if not title:
        return "no_title"
    if len(lines) < MIN_LINES or len(words) < MIN_WORDS:
        return "too_short"
    letters = sum(ch.isalpha() for ch in lyrics)
    if letters < 0.6 * sum(not ch.isspace() for ch in lyrics):
        return "not_lyrics"
    if len(words) / len(lines) > MAX_WORDS_PER_LINE:
        return "prose"
    if any(_CHAT_LINE.match(line) for line in [title, *lines]):
        return "chat_artifact"
    run = 1
    for prev, line in zip(lines, lines[1:]):
        run = run + 1 if line.strip().lower() == prev.strip().lower() else 1
        if run >= MAX_SAME_LINE_RUN:
            return "repeated_line"
    most_common = max(lines.count(line) for line in set(lines))
    if most_common > 2 and most_common / len(lines) > MAX_LINE_SHARE:
        return "repeated_line"
    if any(_PHRASE_LOOP.search(line) for line in lines):
        return "repetition_loop"
    bigrams = list(zip(words, words[1:]))
    if bigrams and len(set(bigrams)) / len(bigrams) < MIN_DISTINCT_BIGRAMS:
        return "repetition_loop"
    return None
