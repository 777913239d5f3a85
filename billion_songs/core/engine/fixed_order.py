"""The engine's floating-point work in one fixed order, so that every path rounds alike.

The determinism contract asks for bit-identical logits on every x86 CPU, alone or in any
batch, with or without the native engine. PyTorch's own reductions (sum, mean, softmax,
matmul) and transcendental functions (exp, rsqrt, silu) may pick another summation order
or another approximation on another CPU capability (AVX2 vs AVX-512) or library version.
So the float work uses only:

- elementwise IEEE operations (+, -, *, /, round, min/max), which are correctly
  rounded on every CPU and in C++ compiled with -ffp-contract=off (no fused multiply-add);
- reductions as fixed trees of such additions, zero padded to a power of two:
  `halving_sum` (x[:h] + x[h:], for the model and head widths) and `pair_sum` (adjacent
  pairs x[0::2] + x[1::2], over keys: a zero-padded tail then only adds +0 above a row's
  own keys, so the native step can stop at the row's length and add the zeros after);
- `exp_fixed`, one polynomial with a Cody-Waite range reduction, and `rsqrt_fixed`,
  Newton steps (torch.sqrt itself is not correctly rounded in every build).

The native step (native_source.py) performs the same operations in the same order; the
functions here are the PyTorch reference and the path used without a compiler.
"""

from __future__ import annotations

import torch

_LOG2E = 1.4426950408889634
_LN2_HI = 0.693359375  # 9 significant bits: n * _LN2_HI is exact for |n| <= 127
_LN2_LO = -2.12194440054690583e-4
_EXP_POLY = (1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0)  # Taylor, highest first


def pow2_at_least(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _pad(x: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    if x.shape[dim] == size:
        return x
    shape = list(x.shape)
    shape[dim] = size - x.shape[dim]
    return torch.cat([x, x.new_zeros(shape)], dim=dim)


def halving_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over the last dim as x[:h] + x[h:] repeatedly, zero padded to a power of two. [..., n] -> [..., 1]."""
    x = _pad(x, -1, pow2_at_least(x.shape[-1]))
    while x.shape[-1] > 1:
        half = x.shape[-1] // 2
        x = x[..., :half] + x[..., half:]
    return x


def pair_sum(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Sum over `dim` as adjacent pairs x[0::2] + x[1::2] repeatedly, zero padded to a power of two (dim kept, size 1)."""
    dim = dim % x.dim()
    x = _pad(x, dim, pow2_at_least(x.shape[dim]))
    while x.shape[dim] > 1:
        pairs = x.unflatten(dim, (-1, 2))
        x = pairs.select(dim + 1, 0) + pairs.select(dim + 1, 1)
    return x


def exp_fixed(x: torch.Tensor) -> torch.Tensor:
    """exp(x) for float32 x clamped to [-87, 88]: 2^n * p(r), x = n ln2 + r, |r| <= ln2 / 2."""
    x = x.clamp(-87.0, 88.0)
    n = torch.round(x * _LOG2E)
    r = x - n * _LN2_HI
    r = r - n * _LN2_LO
    p = torch.full_like(r, _EXP_POLY[0])
    for c in _EXP_POLY[1:]:
        p = p * r + c
    scale = ((n.to(torch.int32) + 127) << 23).view(torch.float32)  # 2^n, exact
    return p * scale


def rsqrt_fixed(x: torch.Tensor) -> torch.Tensor:
    """1 / sqrt(x) for float32 x > 0: the bit-trick first guess, then three Newton steps
    y * (1.5 - ((0.5 * x) * y) * y). (torch.sqrt is not correctly rounded in every build:
    it may call MKL's vector math, so it is not used.)"""
    y = (0x5F3759DF - (x.view(torch.int32) >> 1)).view(torch.float32)
    half = x * 0.5
    for _ in range(3):
        y = y * (1.5 - (half * y) * y)
    return y


def silu(x: torch.Tensor) -> torch.Tensor:
    return x / (exp_fixed(-x) + 1.0)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """(x * rsqrt_fixed(halving_sum(x * x) / D + eps)) * weight."""
    mean = halving_sum(x * x) / x.shape[-1]
    return (x * rsqrt_fixed(mean + eps)) * weight


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """GPT-2's LayerNorm: c = x - halving_sum(x) / D; (c * rsqrt_fixed(halving_sum(c * c) / D + eps)) * w + b."""
    centered = x - halving_sum(x) / x.shape[-1]
    var = halving_sum(centered * centered) / x.shape[-1]
    return (centered * rsqrt_fixed(var + eps)) * weight + bias


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's GELU, (0.5 x) (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), with
    tanh(u) = 1 - 2 / (exp_fixed(2u) + 1)."""
    inner = (x + ((x * x) * x) * 0.044715) * 0.7978845608028654
    tanh = 1.0 - 2.0 / (exp_fixed(inner * 2.0) + 1.0)
    return (x * 0.5) * (tanh + 1.0)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
           chunk_bytes: int = 64 << 20) -> torch.Tensor:
    """Causal grouped-query attention in fixed order.

    q: [B, H, L, d] for the L newest positions; k, v: [B, Hkv, T, d] for all T positions
    (T >= L), float16 (a cache's) or float32: float16 is widened to float32 first, which
    is exact. Query head h reads key/value head h // (H // Hkv). `mask` (a RowCache's
    key_mask, L = 1): True for keys to hide; otherwise query i sees keys up to T - L + i.
    Scores are halving sums over d times d^-0.5; weights exp_fixed(s - max) with hidden
    keys exactly 0; the output is pair_sum over keys of weight * value, divided by the
    pair_sum of the weights. Returns [B, L, H * d]. Queries go in chunks of `chunk_bytes`.
    """
    batch, heads, new, dim = q.shape
    kv_heads, total = k.shape[1], k.shape[2]
    group = heads // kv_heads
    k, v = k.float(), v.float()  # exact widening (a no-op for float32)
    per_query = batch * kv_heads * group * total * dim * 4
    step = max(1, chunk_bytes // max(1, per_query))
    outs = []
    for start in range(0, new, step):
        end = min(new, start + step)
        outs.append(_attend_chunk(q[:, :, start:end], k, v, mask, total - new + start))
    out = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0]  # [B, H, L, d]
    return out.transpose(1, 2).reshape(batch, new, heads * dim)


def _attend_chunk(q, k, v, mask, first_pos: int) -> torch.Tensor:
    batch, heads, new, dim = q.shape
    kv_heads, total = k.shape[1], k.shape[2]
    group = heads // kv_heads
    q = q.reshape(batch, kv_heads, group * new, dim)  # [B, Hkv, g*L, d]
    scores = halving_sum(q[:, :, :, None, :] * k[:, :, None, :, :])[..., 0] * (dim ** -0.5)  # [B, Hkv, g*L, T]
    if mask is not None:
        hidden = mask  # [B, 1, 1, T]
    else:
        query_pos = torch.arange(first_pos, first_pos + new).repeat(group)  # [g*L]
        hidden = (torch.arange(total)[None, :] > query_pos[:, None])[None, None]  # [1, 1, g*L, T]
    scores = scores.masked_fill(hidden, float("-inf"))
    weights = exp_fixed(scores - scores.amax(dim=-1, keepdim=True)).masked_fill(hidden, 0.0)
    norm = pair_sum(weights, -1)  # [B, Hkv, g*L, 1]
    terms = (weights[..., None] * v[:, :, None, :, :]).masked_fill(hidden[..., None], 0.0)  # [B, Hkv, g*L, T, d]
    out = pair_sum(terms, -2)[..., 0, :] / norm  # [B, Hkv, g*L, d]
    return out.reshape(batch, heads, new, dim)
