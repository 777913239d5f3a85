"""Validation perplexity of a model on a prepared validation split, measured with the int8
engine that serves the songs (so it scores what visitors get, for any model spec,
including the embedded base and exported directories).

    val chunks (each starts at a song) -> first `window` tokens of each
      -> rows of equal length fed one token per step through the engine's KV cache
      -> log-probability of each next token -> exp(mean negative log-likelihood)

The engine returns the logits of the last position only, hence the one-token steps.
<|startoftitle|> is never a target: it is the prompt, not something to predict. A model
whose vocabulary lacks it (a base that was never tuned) reads <|endoftext|> in its place,
the song boundary it knows, so base and tuned models are scored on the same targets.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from billion_songs.core.engine.modelfile import LoadedModel
from billion_songs.core.lyrics_format import END_OF_TEXT, START_OF_TITLE
from billion_songs.core.tuning.dataset import PreparedDataset

MAX_TOKENS = 4096  # validation tokens scored: enough for a stable number, quick on a CPU
WINDOW = 256  # tokens per row (from a chunk's start): the context each prediction gets at most
BATCH = 8  # rows decoded together
METHOD = "int8 engine"


@dataclass(frozen=True)
class Perplexity:
    perplexity: float | None  # None when it could not be measured (see `note`)
    loss: float | None  # mean negative log-likelihood per scored token, in nats
    tokens: int  # targets scored
    method: str = METHOD
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def engine_perplexity(loaded: LoadedModel, data: PreparedDataset, *, max_tokens: int = MAX_TOKENS,
                      window: int = WINDOW, batch: int = BATCH) -> Perplexity:
    mismatch = _vocab_mismatch(loaded, data)
    if mismatch:
        return Perplexity(None, None, 0, note=mismatch)
    start_id, end_id = (int(data.meta["special_token_ids"][m]) for m in (START_OF_TITLE, END_OF_TEXT))
    window = min(window, _max_positions(loaded))
    rows = _rows(data, max_tokens, window)
    if not rows:
        return Perplexity(None, None, 0, note="the validation split is empty")
    vocab = loaded.tokenizer.get_vocab(with_added_tokens=True)
    stand_in = None if START_OF_TITLE in vocab else end_id  # what a base reads for the marker
    nll, scored = 0.0, 0
    rows.sort(key=len, reverse=True)
    for first in range(0, len(rows), batch):
        group = rows[first : first + batch]
        length = min(len(row) for row in group)
        tokens = torch.from_numpy(np.stack([row[:length] for row in group]).astype(np.int64))  # (B, L)
        inputs = tokens.masked_fill(tokens == start_id, stand_in) if stand_in is not None else tokens
        group_nll, group_scored = _score(loaded.model, inputs, tokens, start_id)
        nll, scored = nll + group_nll, scored + group_scored
    if not scored:
        return Perplexity(None, None, 0, note="no tokens to score")
    loss = nll / scored
    note = f"first {window} tokens of each validation chunk; <|startoftitle|> targets not scored"
    if stand_in is not None:
        note += "; the model lacks <|startoftitle|> and reads <|endoftext|> in its place"
    return Perplexity(math.exp(loss), loss, scored, note=note)


def _score(model, inputs: torch.Tensor, targets: torch.Tensor, start_id: int) -> tuple[float, int]:
    """Sum of -log p(targets[:, t+1] | inputs[:, :t+1]) over t, skipping start markers."""
    rows, length = inputs.shape
    cache = model.new_cache(rows, length)
    nll, scored = 0.0, 0
    with torch.inference_mode():
        for t in range(length - 1):
            logits = model.forward(inputs[:, t : t + 1], cache)  # (B, V)
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            target = targets[:, t + 1]  # (B,)
            keep = target != start_id
            nll -= logprobs[keep, target[keep]].sum().item()
            scored += int(keep.sum())
    return nll, scored


def _rows(data: PreparedDataset, max_tokens: int, window: int) -> list[np.ndarray]:
    rows, total = [], 0
    for i in range(len(data.val)):
        row = np.asarray(data.val[i][:window])
        if len(row) < 2:
            continue
        rows.append(row)
        total += len(row)
        if total >= max_tokens:
            break
    return rows


def _vocab_mismatch(loaded: LoadedModel, data: PreparedDataset) -> str:
    """Why the model cannot read the dataset's token ids ("" when it can)."""
    from transformers import AutoTokenizer

    data_vocab = AutoTokenizer.from_pretrained(str(data.tokenizer_dir)).get_vocab()
    model_vocab = loaded.tokenizer.get_vocab(with_added_tokens=True)
    differing = sum(1 for token, index in model_vocab.items() if data_vocab.get(token, index) != index)
    if differing:
        return f"the model's tokenizer differs from the dataset's ({differing:,} tokens); prepare the data with it"
    model_size = int(loaded.manifest.config["vocab_size"])
    foreign = [index for token, index in data_vocab.items()
               if index >= model_size and token not in (START_OF_TITLE,)]
    if foreign:
        return f"the dataset uses token ids the model does not have (e.g. {foreign[0]})"
    return ""


def _max_positions(loaded: LoadedModel) -> int:
    config = loaded.manifest.config
    return int(config.get("n_positions") or config.get("max_positions") or 1024)
