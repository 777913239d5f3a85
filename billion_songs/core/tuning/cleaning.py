"""Whitespace and text clean-up of titles and lyrics, and the filter that drops empty,
untitled and duplicate songs."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from billion_songs.core.tuning.csv_songs import RawSong

# Reasons a song is skipped, as counted in the summary.
EMPTY_LYRICS = "empty lyrics"
NO_TITLE = "no title"
DUPLICATE = "duplicate"

# C0/C1 control characters other than tab and newline (and DEL): they never belong in
# lyrics and some tokenizers choke on them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Every line break Unicode knows, folded to "\n" before anything else.
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0\u3000]+$", re.MULTILINE)
_MANY_BLANK_LINES = re.compile(r"\n{3,}")  # 2+ blank lines become one blank line


@dataclass(frozen=True)
class CleanSong:
    line: int  # CSV line the song came from, to trace a training example back to its row
    title: str
    lyrics: str


def clean_lyrics(text: str) -> str:
    """CRLF and other line breaks to LF, trailing spaces stripped, stanzas separated by at
    most one blank line, leading and trailing blank lines removed. Indentation and the
    words themselves are kept as written."""
    text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _MANY_BLANK_LINES.sub("\n\n", text)
    return text.strip()


def clean_title(text: str) -> str:
    """One line (the format ends the title at the first newline) with single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", _LINE_BREAKS.sub(" ", text))
    return " ".join(text.split())


def clean_songs(
    rows: Iterable[RawSong], *, keep_untitled: bool = False
) -> tuple[list[CleanSong], Counter[str]]:
    """Clean every row and keep the first of each distinct lyrics. Returns the songs in
    file order and how many were skipped for each reason.

    Duplicates are decided on the cleaned lyrics alone: the same words under another title
    or artist (a cover, a re-upload) would still teach the model to recite them."""
    kept: list[CleanSong] = []
    skipped: Counter[str] = Counter()
    seen: set[str] = set()
    for row in rows:
        lyrics = clean_lyrics(row.lyrics)
        title = clean_title(row.title)
        if not lyrics:
            skipped[EMPTY_LYRICS] += 1
        elif not title and not keep_untitled:
            skipped[NO_TITLE] += 1
        elif lyrics in seen:
            skipped[DUPLICATE] += 1
        else:
            seen.add(lyrics)
            kept.append(CleanSong(row.line, title, lyrics))
    return kept, skipped
