"""What the songwriting decoder needs to know about a tokenizer's tokens, computed once per
model: which tokens may appear in a sung line or a title, which start a new word, which
are archaic words, which words may not end a line, and which single-token words rhyme
with a given word.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict

import torch

from billion_songs.core.songwriting.checks import ARCHAIC
from billion_songs.core.songwriting.rhyme import rhyming_parts

_LINE_TOKEN = re.compile(r"^ ?[A-Za-z',.!?]+$")  # letters, apostrophes, light punctuation (no dashes)
_TITLE_TOKEN = re.compile(r"^ ?[A-Za-z']+$")
_STARTS_WORD = re.compile(r"^ [A-Za-z]")
_FIRST = re.compile(r"^ ?[A-Za-z]")
_WORD_TOKEN = re.compile(r"^ ([a-z]+)$")  # a whole lower-case word with its leading space
_BAD_RUNS = ("--", "..", "''", ",,", "!!", "??", "-'", "'-")
# Words a sung line should not end on: articles, possessives, conjunctions and the
# prepositions that always want an object ("in" and "on" can end a line: "come on in").
NO_END = frozenset(
    "a an the and or but nor so if of to with from into onto at by for as than that my your our "
    "their its his every each this these those whose which who is are was were am be being i'm "
    "you're we're they're i've i'll i'd such very some any we they he she "
    "that's it's there's here's what's where's who's he's she's we'll you'll they'll we've you've "
    "they've we'd you'd they'd".split()
)
MIN_RHYME_WORD = 3  # letters: "su" or "qu" (in the dictionary as abbreviations) are word pieces, not rhymes


class Vocabulary:
    def __init__(self, tokenizer):
        size = tokenizer.get_vocab_size(with_added_tokens=True)
        texts = [tokenizer.decode([i], skip_special_tokens=False) for i in range(size)]
        special = set(tokenizer.get_added_tokens_decoder()) if hasattr(tokenizer, "get_added_tokens_decoder") else set()
        newline = tokenizer.encode("\n", add_special_tokens=False).ids
        if len(newline) != 1:
            raise ValueError("the songwriting decoder needs a tokenizer with a single newline token")
        self.size = size
        self.newline = newline[0]
        self.texts = texts

        def mask(test) -> torch.Tensor:
            return torch.tensor([i not in special and test(text) for i, text in enumerate(texts)], dtype=torch.bool)

        archaic = mask(lambda t: t.strip().lower() in ARCHAIC)
        clean = mask(lambda t: not any(run in t for run in _BAD_RUNS))
        self.line_ok = mask(lambda t: bool(_LINE_TOKEN.match(t))) & clean & ~archaic
        self.title_ok = mask(lambda t: bool(_TITLE_TOKEN.match(t))) & ~archaic
        self.first_ok = mask(lambda t: bool(_FIRST.match(t)))  # a line or title starts with a letter
        self.starts_word = mask(lambda t: bool(_STARTS_WORD.match(t)))
        self.punctuation = mask(lambda t: bool(t.strip()) and not any(ch.isalnum() for ch in t))
        self.words = {match.group(1): i for i, t in enumerate(texts)
                      if i not in special and (match := _WORD_TOKEN.match(t)) and len(match.group(1)) >= MIN_RHYME_WORD}

    @functools.cached_property
    def _by_rhyme(self) -> dict[str, list[int]]:
        """CMU rhyming part -> ids of the single-token words that have it (once per model:
        about a second for a 49k vocabulary)."""
        index: dict[str, list[int]] = defaultdict(list)
        for word, token in self.words.items():
            for part in rhyming_parts(word):
                index[part].append(token)
        return dict(index)

    def rhyme_tokens(self, word: str) -> torch.Tensor:
        """int64 ids of single-token words that rhyme with `word` and may end a line (the
        word itself left out)."""
        own = self.words.get(word)
        found = sorted({t for part in rhyming_parts(word) for t in self._by_rhyme.get(part, ())
                        if t != own and self.texts[t].strip() not in NO_END})  # a line cannot end on "to"
        return torch.tensor(found, dtype=torch.int64)

