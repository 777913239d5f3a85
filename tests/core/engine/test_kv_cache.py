"""The key/value caches store float16: every operation on them (append, prefix caches,
dropped rows, copied spans) keeps float16, and a cache takes half the bytes (and half the
resident memory) of a float32 one. That the native step and the PyTorch path write and
read them with the same bits is test_native.py's."""

import json
import subprocess
import sys

import torch

from billion_songs.core.engine.attention import CACHE_DTYPE, KVCache, RowCache, attend

# The embedded model's cache shape (SmolLM2-135M: 30 layers, 3 key/value heads of 64).
LAYERS, KV_HEADS, HEAD_DIM = 30, 3, 64


def _tensors(cache: KVCache) -> list[torch.Tensor]:
    return cache.k + cache.v


def _bytes(cache: KVCache) -> int:
    return sum(t.numel() * t.element_size() for t in _tensors(cache))


def test_caches_hold_float16_through_every_operation():
    assert CACHE_DTYPE == torch.float16
    prefix = KVCache(2, 1, 2, 5, 8)
    torch.manual_seed(0)
    prefix.append(0, torch.randn(1, 2, 3, 8), torch.randn(1, 2, 3, 8))
    prefix.append(1, torch.randn(1, 2, 3, 8), torch.randn(1, 2, 3, 8))
    prefix.advance(3)
    caches = [KVCache(2, 4, 2, 10, 8), RowCache(2, 4, 2, 10, 8), KVCache.from_prefix(prefix, 4, 10),
              RowCache.from_prefix(prefix, 4, 10)]
    for cache in caches:
        assert all(t.dtype == torch.float16 for t in _tensors(cache))
    rows = caches[3]
    rows.copy_span(0, [2, 3], 0, 3)
    rows.keep_rows(torch.tensor([1, 3]))
    assert all(t.dtype == torch.float16 and t.shape[0] == 2 for t in _tensors(rows))
    assert torch.equal(rows.k[1][:, :, :3], prefix.k[1][:, :, :3].expand(2, -1, -1, -1))


def test_append_rounds_to_float16_and_attention_reads_the_widened_values():
    cache = KVCache(1, 2, 1, 6, 8)
    k, v = torch.randn(2, 1, 4, 8) * 20, torch.randn(2, 1, 4, 8) * 20
    keys, values = cache.append(0, k, v)
    assert keys.dtype == torch.float16 and torch.equal(keys, k.to(torch.float16))
    assert torch.equal(values, v.to(torch.float16))
    q = torch.randn(2, 3, 4, 8)
    assert torch.equal(attend(q, keys, values), attend(q, keys.float(), values.float()))
    row_cache = RowCache(1, 2, 1, 6, 8)
    keys, _ = row_cache.append(0, k[:, :, :1], v[:, :, :1])
    assert torch.equal(keys[:, :, 0], k[:, :, 0].to(torch.float16))


def test_a_cache_takes_half_the_bytes_of_float32():
    """32 rows x 400 positions of the embedded model: 295 MB, not 590 MB."""
    cache = KVCache(LAYERS, 32, KV_HEADS, 400, HEAD_DIM)
    float32_bytes = LAYERS * 2 * 32 * KV_HEADS * 400 * HEAD_DIM * 4
    assert _bytes(cache) * 2 == float32_bytes == 589_824_000


_RSS_CHILD = r"""
import json, sys, torch
sys.path.insert(0, {root!r})
from billion_songs.core.engine.attention import KVCache

def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))

before = rss()
cache = KVCache({layers}, 8, {kv_heads}, 400, {head_dim})
print(json.dumps({{"grew": rss() - before}}))
"""


def test_a_cache_adds_half_the_resident_memory_of_float32():
    """In a fresh process: allocating a cache of 8 rows x 400 positions (zero-filled, so
    resident) grows RSS by its float16 size, about half of what float32 took."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    code = _RSS_CHILD.format(root=root, layers=LAYERS, kv_heads=KV_HEADS, head_dim=HEAD_DIM)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    grew = json.loads(out.stdout.strip().splitlines()[-1])["grew"]
    half_bytes = LAYERS * 2 * 8 * KV_HEADS * 400 * HEAD_DIM * 2  # 73.7 MB
    assert 0.9 * half_bytes < grew < 1.2 * half_bytes, grew  # float32 would be 2 * half_bytes
