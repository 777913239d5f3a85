"""Rhyme density: the share of lyric lines whose last word rhymes with the last word of a
nearby line (within RHYME_WINDOW lines), by the CMU Pronouncing Dictionary (`pronouncing`).

Two words rhyme when they are different words sharing a rhyming part: the phonemes from
the last stressed vowel on ("heart" AA1 R T, "apart" AA1 R T). Both lines of a rhyming
pair count, so couplets (AABB) and alternate rhyme (ABAB) score 1.0, ABCB scores 0.5 and
prose 0.0. Lines whose last word is not in the dictionary are left out of the share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from billion_songs.core.guards import lyric_lines
from billion_songs.core.songwriting.rhyme import last_word, rhymes, rhyming_parts  # noqa: F401 (re-exported)

RHYME_WINDOW = 3  # a line may rhyme with any of the next 3 lines: AABB, ABAB, ABCB, AAXA


@dataclass(frozen=True)
class RhymeCount:
    rhyming: int  # lines that rhyme with a nearby line
    known: int  # lines whose last word the dictionary knows

    @property
    def density(self) -> float:
        return self.rhyming / self.known if self.known else 0.0

    def __add__(self, other: RhymeCount) -> RhymeCount:
        return RhymeCount(self.rhyming + other.rhyming, self.known + other.known)


def count_rhymes(lyrics: str) -> RhymeCount:
    ends = [last_word(line) for line in lyric_lines(lyrics)]
    known = [i for i, word in enumerate(ends) if word and rhyming_parts(word)]
    rhyming: set[int] = set()
    for i in known:
        for j in range(i + 1, min(i + 1 + RHYME_WINDOW, len(ends))):
            if ends[j] and rhymes(ends[i], ends[j]):
                rhyming.update((i, j))
    return RhymeCount(len(rhyming), len(known))


def rhyme_density(texts: Sequence[str]) -> float:
    """Rhyming lines / lines with a known last word, over all the texts."""
    return sum((count_rhymes(text) for text in texts), RhymeCount(0, 0)).density
