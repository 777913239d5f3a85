"""RowCache: rows at their own positions in one batch. A row's logits depend only on its
own tokens, never on what the other rows hold or how many there are."""

import torch

from billion_songs.core.engine.attention import RowCache
from billion_songs.core.loader import load_model


def _run(model, rows_tokens, steps):
    """Step each row through its own token list (rows may start at different offsets:
    a row waits, not stepping, until its turn). Returns each row's logits per real step."""
    first = model.new_cache(1, 1)
    layers, (_, kv_heads, _, head_dim) = len(first.k), first.k[0].shape
    cache = RowCache(layers, len(rows_tokens), kv_heads, 64, head_dim)
    out = [[] for _ in rows_tokens]
    for step in range(steps):
        tokens = torch.zeros((len(rows_tokens), 1), dtype=torch.int64)
        for row, (start, seq) in enumerate(rows_tokens):
            index = step - start
            cache.stepping[row] = 0 <= index < len(seq)
            if cache.stepping[row]:
                tokens[row, 0] = seq[index]
        with torch.inference_mode():
            logits = model.forward(tokens, cache)
        for row in range(len(rows_tokens)):
            if cache.stepping[row]:
                out[row].append(logits[row].clone())
    return out


def test_a_row_alone_and_among_others_at_other_positions_gives_the_same_bits(tiny_gpt2_dir):
    model = load_model(str(tiny_gpt2_dir)).model
    seq = [464, 3290, 318, 257, 1110, 13, 198, 40]
    alone = _run(model, [(0, seq)], len(seq))[0]
    mixed = _run(model, [(3, [11, 12, 13]), (2, seq), (0, [5] * 12), (5, seq[:4])], len(seq) + 2)
    assert len(mixed[1]) == len(seq)
    assert all(torch.equal(a, b) for a, b in zip(alone, mixed[1]))
    # The row that waited three steps before starting saw nothing of what others wrote.
    assert all(torch.equal(a, b) for a, b in zip(alone[:4], mixed[3]))


def test_copy_span_makes_siblings_continue_from_the_chosen_line(tiny_gpt2_dir):
    model = load_model(str(tiny_gpt2_dir)).model
    first = model.new_cache(1, 1)
    layers, (_, kv_heads, _, head_dim) = len(first.k), first.k[0].shape
    cache = RowCache(layers, 2, kv_heads, 32, head_dim)
    with torch.inference_mode():
        model.forward(torch.tensor([[10], [20]]), cache)  # two different "candidates"
        cache.copy_span(0, [1], 0, 1)
        after = model.forward(torch.tensor([[30], [30]]), cache)
    assert torch.equal(after[0], after[1])
