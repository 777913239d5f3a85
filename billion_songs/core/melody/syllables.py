"""Lyric lines as sung syllables, with the stress the CMU dictionary gives them.

A word's syllable count and stress come from `pronouncing` (the CMU Pronouncing
Dictionary); its spelling is cut into that many pieces with `pyphen`'s hyphenation,
merged or cut further at vowel groups to match. A word the dictionary does not know gets
pyphen's syllables and no stress. The pieces of a line, joined, give back the line's text
exactly (punctuation stays on the piece it touches): the .kar and the page show the same
words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import pronouncing
import pyphen

STRESSED, UNSTRESSED, UNKNOWN = 1, 0, -1
# One-syllable words sung weak even where the dictionary marks them stressed ("to", "you").
WEAK_WORDS = frozenset(
    "a an the to of in on at and or but for with from by as so if than that this my your his her its our "
    "their me him us them i you he she it we they is am are was were be been do does did has have had "
    "can will would could should not no nor up out".split())
_VOWELS = "aeiouy"
_CORE = re.compile(r"^([^A-Za-z']*)(.*?)([^A-Za-z']*)$", re.DOTALL)


@dataclass(frozen=True)
class Syllable:
    text: str  # the piece of the line's text sung on this note
    word: int  # index of its word in the line
    word_start: bool  # the first piece of its word
    stress: int  # STRESSED, UNSTRESSED or UNKNOWN


@cache
def _hyphenator() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


def load_dictionaries() -> None:
    """Load the CMU pronouncing dictionary and the hyphenator, which the first line's
    syllables would otherwise load."""
    pronouncing.init_cmu()
    _hyphenator()


def _vowel_cuts(core: str) -> list[int]:
    """Cut points before the consonant that opens each later vowel group ("fi|re")."""
    lower = core.lower()
    cuts = []
    for i in range(1, len(lower)):
        if lower[i] in _VOWELS and lower[i - 1] not in _VOWELS:
            j = i - 1  # the consonant before this vowel group goes with it
            if any(ch in _VOWELS for ch in lower[:j]):
                cuts.append(j)
    return cuts


def _pieces(core: str, count: int) -> list[str]:
    """`core` cut into `count` pieces where possible (fewer for a short word)."""
    if count <= 1 or len(core) < 2:
        return [core]
    cuts = sorted(set(_hyphenator().positions(core)))
    if len(cuts) > count - 1:
        # Too many pieces: drop the cuts that leave the shortest pieces.
        while len(cuts) > count - 1:
            bounds = [0, *cuts, len(core)]
            lengths = [bounds[k + 2] - bounds[k] for k in range(len(cuts))]
            cuts.pop(lengths.index(min(lengths)))
    elif len(cuts) < count - 1:
        for cut in _vowel_cuts(core):
            if len(cuts) == count - 1:
                break
            trial = sorted({*cuts, cut})
            bounds = [0, *trial, len(core)]
            # every piece keeps a vowel: "ev|ery" may become "ev|e|ry", never "e|v|ery"
            if len(trial) > len(cuts) and all(any(ch in _VOWELS for ch in core[a:b].lower())
                                              for a, b in zip(bounds, bounds[1:])):
                cuts = trial
    bounds = [0, *cuts, len(core)]
    return [core[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


@lru_cache(maxsize=8192)
def word_syllables(word: str) -> tuple[tuple[str, int], ...]:
    """(piece, stress) for each sung syllable of one whitespace-separated word."""
    lead, core, trail = _CORE.match(word).groups()
    if not core:
        return ((word, UNSTRESSED),)
    phones = pronouncing.phones_for_word(core.lower().strip("'"))
    if phones:
        guess = len(_hyphenator().positions(core)) + 1  # pyphen's count picks among the dictionary's variants
        counts = [pronouncing.syllable_count(p) for p in phones]
        choice = phones[counts.index(guess)] if guess in counts else phones[0]
        stresses = [STRESSED if s in "12" else UNSTRESSED for s in pronouncing.stresses(choice)] or [STRESSED]
        if len(stresses) == 1 and core.lower() in WEAK_WORDS:
            stresses = [UNSTRESSED]
        pieces = _pieces(core, len(stresses))
        if len(pieces) != len(stresses):
            # Fewer pieces than syllables ("hour"): one note each, the loudest stress first.
            stresses = [max(stresses)] + [UNSTRESSED] * (len(pieces) - 1)
    else:
        pieces = _pieces(core, 99)
        stresses = [UNKNOWN] * len(pieces)
    pieces[0] = lead + pieces[0]
    pieces[-1] = pieces[-1] + trail
    return tuple(zip(pieces, stresses))


def line_syllables(line: str) -> tuple[Syllable, ...]:
    out = []
    for w, word in enumerate(line.split()):
        for k, (piece, stress) in enumerate(word_syllables(word)):
            out.append(Syllable(piece, w, k == 0, stress))
    return tuple(out)


def line_text(syllables) -> str:
    """The line's text back from its syllables (words joined by one space)."""
    words: list[str] = []
    for s in syllables:
        if s.word_start or not words:
            words.append(s.text)
        else:
            words[-1] += s.text
    return " ".join(words)

