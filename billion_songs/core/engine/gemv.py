"""Exact int8 matrix products with the native kernel (AVX-512 VNNI or AVX2):

    y[m, n] = sum_k x_q[m, k] * W[k, n]      (int32, exact)

with 7-bit activations given unsigned, `x_u8 = x_q + 64` in [1, 127] (as `int8.py` stores
them), and int8 weights. The C++ (`native_source.py`, built by `kernels.py`) streams each
weight once per call, reused from cache across the rows of a batch; threads split output
channels. Integer sums are associative, so the result is the same on every CPU kind, at
every thread count and for every batch.

    packed = pack(weight_t)          # int8 [K, N], once at load time (the only copy kept)
    acc = gemv(x_u8, packed)         # uint8 [K] (or [M, K]) -> int32 [N] (or [M, N])
    weight_t = unpack(packed)        # back to int8 [K, N] (exporting a model)

`available()` never raises: without a compiler or an x86 CPU with AVX2 it is False and
callers keep their other path. `bench/bench_kernel.py` measures it.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import torch

from billion_songs.core.engine import kernels

log = logging.getLogger(__name__)

_ZERO = 64  # activation zero point: x_u8 = x_q + 64
_BLOCK = 16  # output channels per block; N is padded to a multiple of 64 (4 blocks)
_N_ALIGN = 64
_K_ALIGN = 4  # k values per 32-bit lane (vpdpbusd)


@dataclass(frozen=True)
class PackedWeight:
    """A weight matrix laid out for the native kernel (see native_source.py)."""

    w: torch.Tensor  # int8 [N_pad / 16, K_pad / 4 * 64]: blocks of 16 channels, 4 k at a time
    row_sums: torch.Tensor  # int32 [N_pad]: sum_k W[k, n], for the zero point
    in_features: int  # K
    out_features: int  # N


def pack(weight_t: torch.Tensor) -> PackedWeight:
    """weight_t: int8 [K, N] (as `Int8Linear.weight_t`) -> the layout the kernel reads."""
    if weight_t.dtype != torch.int8 or weight_t.dim() != 2:
        raise ValueError(f"weight_t must be int8 [K, N], got {weight_t.dtype} {tuple(weight_t.shape)}")
    k, n = weight_t.shape
    k_pad, n_pad = -(-k // _K_ALIGN) * _K_ALIGN, -(-n // _N_ALIGN) * _N_ALIGN
    w = torch.zeros(n_pad, k_pad, dtype=torch.int8)
    w[:n, :k] = weight_t.t()
    row_sums = w.sum(dim=1, dtype=torch.int32)
    blocks = w.view(n_pad // _BLOCK, _BLOCK, k_pad // _K_ALIGN, _K_ALIGN).transpose(1, 2)  # [N/16, K/4, 16, 4]
    return PackedWeight(w=blocks.reshape(n_pad // _BLOCK, k_pad * _BLOCK).contiguous(), row_sums=row_sums,
                        in_features=k, out_features=n)


def unpack(packed: PackedWeight) -> torch.Tensor:
    """The int8 [K, N] matrix that `pack` was given."""
    n_pad = packed.w.shape[0] * _BLOCK
    k_pad = packed.w.shape[1] // _BLOCK
    w = packed.w.view(n_pad // _BLOCK, k_pad // _K_ALIGN, _BLOCK, _K_ALIGN).transpose(1, 2).reshape(n_pad, k_pad)
    return w[: packed.out_features, : packed.in_features].t().contiguous()


def gemv(x_u8: torch.Tensor, packed: PackedWeight) -> torch.Tensor:
    """x_u8: uint8 [K] or [M, K] (x_q + 64, in [1, 127]) -> int32 [N] or [M, N], exactly
    (x_u8 - 64) @ weight_t. Requires `available()`."""
    return kernels.native().gemm(x_u8, packed.w, packed.row_sums, packed.out_features)


def _self_test() -> bool:
    """Worst cases of both signs, padding in K and N, M > 1, against int64 sums."""
    generator = torch.Generator().manual_seed(0)
    weight_t = torch.randint(-128, 128, (100, 70), dtype=torch.int8, generator=generator)
    weight_t[:, 0], weight_t[:, 1] = 127, -128
    x_q = torch.randint(-63, 64, (9, 100), dtype=torch.int8, generator=generator)
    x_q[0], x_q[1] = 63, -63
    x_u8 = (x_q.to(torch.int16) + _ZERO).to(torch.uint8)
    packed = pack(weight_t)
    exact = (x_q.long() @ weight_t.long()).to(torch.int32)
    rows_ok = all(torch.equal(gemv(x_u8[i], packed), exact[i]) for i in range(3))
    return rows_ok and torch.equal(gemv(x_u8, packed), exact) and torch.equal(unpack(packed), weight_t)


@functools.cache
def available() -> bool:
    """True when the native kernel built and passes its self-test on this CPU. Never raises."""
    if kernels.native() is None:
        return False
    try:
        if _self_test():
            return True
        log.warning("int8 kernel: self-test failed, not used")
    except Exception as exc:  # noqa: BLE001 - a kernel that fails its self-test is not used
        log.warning("int8 kernel unavailable (%s: %s)", type(exc).__name__, str(exc)[:200])
    return False
