"""The song contract as checks on text: what every song written by the songwriting
decoder must be, used by its quality guard and measured by `eval`.

- Title: 1 to 8 words, starts with a letter or digit, no stray punctuation, and it is the
  hook: its words appear together in the lyrics.
- Form: at least 3 stanzas of 2 to 8 lines, at least 12 lines; a stanza (the chorus) sung
  at least twice word for word; no loop.
- Lines: no prose (more than 16 words), no archaic words ("thou", "doth"...), and words a
  dictionary knows (a random-weight model strings word pieces into lines of the right
  shape: the form alone does not make a song).
"""

from __future__ import annotations

import re
from collections import Counter

from billion_songs.core.songwriting.rhyme import last_word, rhymes, rhyming_parts

MIN_LINES = 12
MIN_STANZAS = 3
STANZA_LINES = (2, 8)
TITLE_MAX_WORDS = 8
PROSE_WORDS = 16  # a line longer than this is prose, not a sung line
MAX_UNKNOWN_WORDS = 0.25  # share of a song's distinct words the CMU dictionary may not know
RHYME_DISTANCE = 2  # a line rhymes when a line at most this far away in its stanza ends in a rhyme
# Words of Early Modern English verse that modern songs do not use. "art" and "wilt" are
# left out: they are modern words too.
ARCHAIC = frozenset(
    "thou thee thy thine thyself ye doth dost hath hast shalt wast wert art' 'tis 'twas twas "
    "o'er e'er ne'er ere nay whence thence hither thither yonder oft unto betwixt methinks "
    "wherefore alas forsooth prithee anon morrow nigh".split()
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_CLEAN_TITLE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9'’ ,-]*[A-Za-z0-9])?$")
_PHRASE_LOOP = re.compile(r"(\b.{2,40}?)(?:[\s,;.!-]*\1){3,}", re.IGNORECASE)
_SECTION_LABEL = re.compile(r"^\s*\[[^\]]*\]\s*$")


def words(text: str) -> list[str]:
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


def stanzas(lyrics: str) -> list[list[str]]:
    """The lyrics' stanzas (split at blank lines), each a list of its lines; "[Chorus]"
    style labels are not lines."""
    out = []
    for block in re.split(r"\n\s*\n", lyrics.strip()):
        lines = [line.strip() for line in block.split("\n") if line.strip() and not _SECTION_LABEL.match(line)]
        if lines:
            out.append(lines)
    return out


def is_clean_title(title: str) -> bool:
    return bool(_CLEAN_TITLE.match(title)) and 1 <= len(title.split()) <= TITLE_MAX_WORDS


def title_in_lyrics(title: str, lyrics: str) -> bool:
    """The title's words appear together, in order, in one line of the lyrics."""
    wanted = words(title)
    if not wanted:
        return False
    for line in lyrics.split("\n"):
        have = words(line)
        if any(have[i:i + len(wanted)] == wanted for i in range(len(have) - len(wanted) + 1)):
            return True
    return False


def is_archaic(line: str) -> bool:
    return any(word in ARCHAIC for word in words(line))


def is_prose(line: str) -> bool:
    return len(words(line)) > PROSE_WORDS


def unknown_share(text: str) -> float:
    """Share of the distinct words that the CMU Pronouncing Dictionary does not know."""
    distinct = set(words(text))
    return sum(not rhyming_parts(word) for word in distinct) / len(distinct) if distinct else 0.0


def repeated_stanza(parts: list[list[str]]) -> bool:
    """A stanza of 2+ lines is sung again word for word: the chorus comes back."""
    seen = Counter(tuple(line.lower() for line in stanza) for stanza in parts if len(stanza) >= 2)
    return any(count >= 2 for count in seen.values())


def has_loop(parts: list[list[str]]) -> bool:
    """A phrase looping inside a line, a line sung three times running, or a line that
    comes back outside a repeated stanza more than twice."""
    lines = [line.lower() for stanza in parts for line in stanza]
    if any(_PHRASE_LOOP.search(line) for line in lines):
        return True
    for stanza in parts:
        run = 1
        for prev, line in zip(stanza, stanza[1:]):
            run = run + 1 if prev.lower() == line.lower() else 1
            if run >= 3:
                return True
    once = {tuple(line.lower() for line in stanza) for stanza in parts}  # each distinct stanza once
    counts = Counter(line for stanza in once for line in stanza)
    return any(count > 2 for count in counts.values())


def form_problems(title: str, lyrics: str) -> list[str]:
    """Reason codes for every way the song breaks the contract ([] for a good song)."""
    parts = stanzas(lyrics)
    lines = [line for stanza in parts for line in stanza]
    problems = []
    if not is_clean_title(title):
        problems.append("unclean_title")
    elif not title_in_lyrics(title, lyrics):
        problems.append("title_not_in_lyrics")
    if len(lines) < MIN_LINES:
        problems.append("too_short")
    if len(parts) < MIN_STANZAS:
        problems.append("few_stanzas")
    low, high = STANZA_LINES
    if any(not low <= len(stanza) <= high for stanza in parts):
        problems.append("stanza_size")
    if not repeated_stanza(parts):
        problems.append("no_chorus")
    if has_loop(parts):
        problems.append("loop")
    if any(is_prose(line) for line in lines):
        problems.append("prose_line")
    if any(is_archaic(line) for line in [title, *lines]):
        problems.append("archaic")
    if unknown_share(f"{title}\n{lyrics}") > MAX_UNKNOWN_WORDS:
        problems.append("gibberish")
    return problems


def is_song_shaped(title: str, lyrics: str) -> bool:
    """At least 12 lines in 3+ stanzas, a chorus repeated verbatim, no loop."""
    parts = stanzas(lyrics)
    return (sum(map(len, parts)) >= MIN_LINES and len(parts) >= MIN_STANZAS and repeated_stanza(parts)
            and not has_loop(parts))


def rhyming_lines(lyrics: str) -> tuple[int, int]:
    """(lines whose end word rhymes with another line end at most RHYME_DISTANCE lines away
    in its stanza, all lines). Each distinct stanza counts once: a chorus sung three times
    is not three times the evidence."""
    rhyming = total = 0
    seen: set[tuple[str, ...]] = set()
    for stanza in stanzas(lyrics):
        key = tuple(line.lower() for line in stanza)
        if key in seen:
            continue
        seen.add(key)
        ends = [last_word(line) for line in stanza]
        total += len(stanza)
        for i, end in enumerate(ends):
            near = ends[max(0, i - RHYME_DISTANCE):i] + ends[i + 1:i + 1 + RHYME_DISTANCE]
            if end and any(other and rhymes(end, other) for other in near):
                rhyming += 1
    return rhyming, total
