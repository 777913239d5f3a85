"""Per-song sampling: Gumbel-max over the top candidates, noise keyed by (id, attempt, step, token).

argmax(logits / T + Gumbel) draws from softmax(logits / T); with the Gumbel noise taken
from the counter-based generator in `rng`, each row's choice depends only on its own
logits and its own key, never on the other rows of the batch or a global seed.
"""

from __future__ import annotations

import numpy as np
import torch

from billion_songs.core import rng
from billion_songs.core.generation_settings import GenerationSettings


def penalize_repeats(logits: torch.Tensor, recent: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style repetition penalty. logits: [B, V]; recent: int64 [B, W] token ids
    (-1 = none). Positive logits are divided by the penalty, negative ones multiplied."""
    if penalty == 1.0 or recent.numel() == 0:
        return logits
    logits = logits.clone()
    valid = recent >= 0
    index = recent.clamp(min=0)
    picked = logits.gather(1, index)
    penalized = torch.where(picked > 0, picked / penalty, picked * penalty)
    logits.scatter_(1, index, torch.where(valid, penalized, picked))
    return logits


def choose_tokens(
    logits: torch.Tensor,
    keys: np.ndarray,
    step: int,
    settings: GenerationSettings,
    recent: torch.Tensor | None = None,
) -> np.ndarray:
    """logits: float32 [B, V]; keys: uint64 [B] (rng.stream_keys) -> chosen token ids int64 [B]."""
    if recent is not None:
        logits = penalize_repeats(logits, recent, settings.repetition_penalty)
    k = min(settings.top_k, logits.shape[1])
    values, indices = torch.topk(logits, k, dim=1)  # [B, k], descending
    values = values.double().numpy() / settings.temperature
    indices = indices.numpy()
    # Ties at equal logits come back in an unspecified order: sort them by token id so the
    # candidate order, and so the top-p cut, is a function of the values alone.
    order = np.lexsort((indices, -values), axis=1)
    values = np.take_along_axis(values, order, axis=1)
    indices = np.take_along_axis(indices, order, axis=1)
    probs = np.exp(values - values[:, :1])
    probs /= probs.sum(axis=1, keepdims=True)
    # Keep the smallest prefix whose probability reaches top_p (always at least one token).
    before = np.cumsum(probs, axis=1) - probs
    keep = before < settings.top_p
    noise = rng.gumbel(keys, step, indices.astype(np.uint64))
    scores = np.where(keep, values + noise, -np.inf)
    return indices[np.arange(len(indices)), scores.argmax(axis=1)].astype(np.int64)
