"""Memorization: does a generated song copy a run of RUN_WORDS or more words from the
training corpus?

The training split of a prepared dataset is decoded back to text and every run of
RUN_WORDS consecutive words is kept in a set of hashes; a song copies when any run of
its own words is in the set. Words are the quality guards' words, so case and
punctuation do not hide a copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from billion_songs.core.evaluation.metrics import ngrams, words
from billion_songs.core.lyrics_format import END_OF_TEXT, START_OF_TITLE
from billion_songs.core.tuning.dataset import PreparedDataset

RUN_WORDS = 8  # a copied run this long is memorization, not a shared cliché ("i love you")
MAX_CORPUS_TOKENS = 5_000_000  # index at most this many training tokens (memory: ~1 hash per word)


@dataclass
class CorpusIndex:
    runs: set[int]  # hashes of every RUN_WORDS-word run in the corpus
    tokens: int  # training tokens indexed
    total_tokens: int  # training tokens in the split
    run_words: int = RUN_WORDS

    @classmethod
    def from_texts(cls, texts: Iterable[str], run_words: int = RUN_WORDS) -> CorpusIndex:
        runs: set[int] = set()
        for text in texts:
            runs.update(hash(gram) for gram in ngrams(words(text), run_words))
        return cls(runs, 0, 0, run_words)

    def copies(self, text: str) -> bool:
        return any(hash(gram) in self.runs for gram in ngrams(words(text), self.run_words))

    def copied_share(self, texts: Sequence[str]) -> float:
        return sum(map(self.copies, texts)) / len(texts) if texts else 0.0


def index_prepared(data: PreparedDataset, *, max_tokens: int = MAX_CORPUS_TOKENS,
                   run_words: int = RUN_WORDS) -> CorpusIndex:
    """Index the training split of a prepared dataset (its first `max_tokens` tokens)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(data.tokenizer_dir))
    taken = [0]  # tokens indexed so far (a list: the generator below adds to it)

    def texts() -> Iterable[str]:
        for i in range(len(data.train)):
            if taken[0] >= max_tokens:
                return
            chunk = data.train[i]
            taken[0] += len(chunk)
            text = tokenizer.decode(chunk.tolist(), skip_special_tokens=False)
            # Markers become line breaks, so one song's last word never joins the next title.
            yield text.replace(START_OF_TITLE, "\n").replace(END_OF_TEXT, "\n")

    index = CorpusIndex.from_texts(texts(), run_words)
    index.tokens, index.total_tokens = taken[0], len(data.train.tokens)
    return index
