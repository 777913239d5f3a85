"""Rhyme by the CMU Pronouncing Dictionary (`pronouncing`): two different words rhyme when
they share a rhyming part, the phonemes from the last stressed vowel on ("heart" AA1 R T,
"apart" AA1 R T)."""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


@functools.lru_cache(maxsize=131072)
def rhyming_parts(word: str) -> frozenset[str]:
    """The rhyming parts of every pronunciation of `word` (empty when unknown)."""
    import pronouncing

    word = word.lower().replace("’", "'")
    return frozenset(pronouncing.rhyming_part(phones) for phones in pronouncing.phones_for_word(word))


def rhymes(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a != b and bool(rhyming_parts(a) & rhyming_parts(b))


def last_word(line: str) -> str | None:
    found = _WORD.findall(line)
    return found[-1].lower() if found else None
