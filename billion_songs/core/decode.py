"""The decoding loop: a batch of equal-length prompts, one token per row per step.

Rows leave the batch as they finish (their cache rows are dropped), which changes nothing
for the rows that stay: the engine's forward is row-independent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from billion_songs.core import rng
from billion_songs.core.engine.attention import KVCache
from billion_songs.core.generation_settings import GenerationSettings
from billion_songs.core.sampling import choose_tokens


@dataclass
class StepTokens:
    """The tokens written at one step: rows[i] (index into the batch) wrote tokens[i]."""

    step: int
    rows: list[int]
    tokens: list[int]
    finished: list[bool]  # that token was an end token


@dataclass
class RowResult:
    token_ids: list[int]  # generated tokens, end token excluded
    complete: bool  # stopped at an end token (False: at the length limit)


def iter_decode(
    model,
    prompts: list[list[int]],
    song_ids: list[int],
    attempt: int,
    settings: GenerationSettings,
    end_token_ids: tuple[int, ...],
    between_steps: Callable[[], None] | None = None,
    prefix: KVCache | None = None,
) -> Iterator[StepTokens]:
    """Yield each step's tokens. All prompts must have the same length; `prefix` is the
    one-row cache of a shared prompt prefix that comes before every prompt."""
    length = len(prompts[0])
    if any(len(p) != length for p in prompts):
        raise ValueError("prompts in one batch must have the same token length")
    max_new = settings.max_new_tokens
    ends = torch.tensor(end_token_ids)
    keys = rng.stream_keys(np.array(song_ids, dtype=np.uint64), attempt)
    active = list(range(len(prompts)))  # batch rows still writing, in cache-row order
    window = settings.repetition_window
    recent = torch.full((len(prompts), window), -1, dtype=torch.int64)  # ring of recent tokens
    with torch.inference_mode():
        if prefix is None:
            cache = model.new_cache(len(prompts), length + max_new)
        else:
            cache = KVCache.from_prefix(prefix, len(prompts), prefix.length + length + max_new)
        logits = model.forward(torch.tensor(prompts, dtype=torch.int64), cache)
        for step in range(max_new):
            chosen = choose_tokens(logits, keys[active], step, settings, recent[active] if window else None)
            chosen_t = torch.from_numpy(chosen)
            finished = torch.isin(chosen_t, ends).tolist()
            yield StepTokens(step=step, rows=list(active), tokens=chosen.tolist(), finished=finished)
            if window:
                recent[active, step % window] = chosen_t
            keep = [i for i, done in enumerate(finished) if not done]
            if not keep or step == max_new - 1:
                return
            if len(keep) < len(active):
                cache.keep_rows(torch.tensor(keep))
                active = [active[i] for i in keep]
                chosen_t = chosen_t[keep]
            if between_steps is not None:
                between_steps()
            logits = model.forward(chosen_t.unsqueeze(1), cache)


def decode_batch(model, prompts, song_ids, attempt, settings, end_token_ids, between_steps=None,
                 prefix=None) -> list[RowResult]:
    results = [RowResult(token_ids=[], complete=False) for _ in prompts]
    for step in iter_decode(model, prompts, song_ids, attempt, settings, end_token_ids, between_steps, prefix):
        for row, token, done in zip(step.rows, step.tokens, step.finished):
            if done:
                results[row].complete = True
            else:
                results[row].token_ids.append(token)
    return results
