"""W8A7 linear layers: int8 weights (one scale per output channel), 7-bit activations
(one scale per row), exact int32 accumulation.

Integer accumulation is associative, so the result of a row never depends on how the
matrix multiply is blocked or threaded, nor on the other rows in the batch.

Why 7-bit activations: x86 int8 kernels without VNNI (AVX2: vpmaddubsw) multiply unsigned
by signed bytes and add each pair of products in int16 *with saturation*. With
activations in [-63, 63], shifted to unsigned [1, 127], a pair is at most 2*127*127 =
32,258 and never saturates, so every kernel (oneDNN on AVX2 or VNNI, `torch._int_mm`) gives
the same exact sums and every x86 machine writes the same songs. (PyTorch's own x86
quantization reduces the activation range for the same reason.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from billion_songs.core.engine import gemv

_QMAX = 127.0  # weights: int8 in [-127, 127]
_ACT_QMAX = 63.0  # activations: [-63, 63]
_ACT_ZERO = 64  # ... stored unsigned as [1, 127] for oneDNN


@functools.cache
def onednn_int8_available() -> bool:
    """oneDNN's prepacked int8 matmul: several times faster than `torch._int_mm`, which
    repacks the weights on every call (and on AVX2-only CPUs runs a slow generic loop).
    Used when a self-test on worst-case inputs gives exactly the `torch._int_mm` result."""
    try:
        generator = torch.Generator().manual_seed(0)
        weight = torch.randint(-127, 128, (48, 256), dtype=torch.int8, generator=generator)
        weight[0], weight[1] = 127, -127  # the largest sums of both signs
        x_q = torch.randint(-63, 64, (5, 256), dtype=torch.int8, generator=generator)
        x_q[0], x_q[1] = 63, -63
        scale = torch.rand(48, generator=generator) + 0.5
        packed = torch.ops.onednn.qlinear_prepack(weight, None)
        fast = _onednn_mm((x_q.to(torch.int16) + _ACT_ZERO).to(torch.uint8), packed, scale)
        exact = torch._int_mm(x_q, weight.t().contiguous()).to(torch.float32).mul_(scale)
        return bool(torch.equal(fast, exact))
    except (RuntimeError, AttributeError):
        return False


def _onednn_mm(x_u8: torch.Tensor, packed: torch.Tensor, w_scale: torch.Tensor) -> torch.Tensor:
    """(x_u8 - 64) @ W^T * w_scale in float32, exact int32 accumulation inside oneDNN."""
    return torch.ops.onednn.qlinear_pointwise(
        x_u8, 1.0, _ACT_ZERO, packed, w_scale, _zeros(w_scale.shape[0]), None, 1.0, 0, torch.float32, "none", [], ""
    )


@functools.cache
def _zeros(n: int) -> torch.Tensor:
    return torch.zeros(n, dtype=torch.int64)  # the weights' zero points (symmetric)


class Int8Linear:
    """y = x @ weight_t * scale (+ bias), with x quantized to 7 bits per row.

    The weights are kept once: in the native kernel's layout when it is available
    (`gemv_packed`; `weight_t` is then unpacked on demand), else as `weight_t` plus oneDNN's
    prepacked copy. Every path gives the same exact int32 sums, so the same bits."""

    def __init__(self, weight_t: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None):
        self.scale = scale  # float32 [out]: weight dequantization scale per output channel
        self.bias = bias  # float32 [out] or None
        self.packed: torch.Tensor | None = None  # oneDNN's blocked weights
        self.gemv_packed: gemv.PackedWeight | None = None  # the native kernel's layout
        self._weight_t: torch.Tensor | None = None  # int8 [in, out]: y = x @ weight_t
        if gemv.available():
            self.gemv_packed = gemv.pack(weight_t)
        else:
            self._weight_t = weight_t
            if onednn_int8_available():
                self.packed = torch.ops.onednn.qlinear_prepack(weight_t.t().contiguous(), None)

    @property
    def weight_t(self) -> torch.Tensor:
        return self._weight_t if self._weight_t is not None else gemv.unpack(self.gemv_packed)

    @classmethod
    def from_float(cls, weight: torch.Tensor, bias: torch.Tensor | None = None) -> "Int8Linear":
        """weight: float [out, in] as in torch.nn.Linear."""
        weight = weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-12) / _QMAX  # [out]
        q = torch.round(weight / scale[:, None]).clamp(-_QMAX, _QMAX).to(torch.int8)
        return cls(
            weight_t=q.t().contiguous(),
            scale=scale.contiguous(),
            bias=None if bias is None else bias.detach().float().contiguous(),
        )

    @property
    def out_features(self) -> int:
        return self.scale.shape[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: float32 [..., in] -> float32 [..., out]."""
        shape = x.shape
        rows = x.reshape(-1, shape[-1])  # [M, in]
        x_scale = rows.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / _ACT_QMAX  # [M, 1]
        x_q = torch.round(rows / x_scale).clamp_(-_ACT_QMAX, _ACT_QMAX)
        if self.gemv_packed is not None:
            acc = gemv.gemv((x_q + _ACT_ZERO).to(torch.uint8), self.gemv_packed)  # int32 [M, out], exact
            y = acc.to(torch.float32).mul_(self.scale).mul_(x_scale)
        elif self.packed is not None:
            y = _onednn_mm((x_q + _ACT_ZERO).to(torch.uint8), self.packed, self.scale)  # acc * scale
            y.mul_(x_scale)
        else:
            acc = torch._int_mm(x_q.to(torch.int8), self._weight_t)  # int32 [M, out], exact
            y = acc.to(torch.float32).mul_(self.scale).mul_(x_scale)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], y.shape[-1])

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        out = {f"{prefix}.weight_t": self.weight_t, f"{prefix}.scale": self.scale}
        if self.bias is not None:
            out[f"{prefix}.bias"] = self.bias
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], prefix: str) -> "Int8Linear":
        return cls(
            weight_t=tensors[f"{prefix}.weight_t"],
            scale=own_copy(tensors[f"{prefix}.scale"]),
            bias=own_copy(tensors.get(f"{prefix}.bias")),
        )


@dataclass
class Int8Embedding:
    """Token embeddings stored as int8 rows with one scale per row; a lookup dequantizes
    only the rows it needs. The same table serves as the tied output projection."""

    weight: torch.Tensor  # int8 [vocab, dim]
    scale: torch.Tensor  # float32 [vocab]

    @classmethod
    def from_float(cls, weight: torch.Tensor) -> "Int8Embedding":
        lin = Int8Linear.from_float(weight)
        return cls(weight=lin.weight_t.t().contiguous(), scale=lin.scale)

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: int64 [...] -> float32 [..., dim]."""
        return self.weight[tokens].to(torch.float32) * self.scale[tokens].unsqueeze(-1)

    def as_linear(self) -> Int8Linear:
        """The tied output projection: logits = h @ embedding.T."""
        return Int8Linear(weight_t=self.weight.t(), scale=self.scale, bias=None)

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        return {f"{prefix}.weight": self.weight, f"{prefix}.scale": self.scale}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], prefix: str) -> "Int8Embedding":
        return cls(weight=own_copy(tensors[f"{prefix}.weight"]), scale=own_copy(tensors[f"{prefix}.scale"]))


def own_copy(t: torch.Tensor | None) -> torch.Tensor | None:
    """A copy in this process's memory: what a model keeps must not be a view of the
    memory-mapped weights file (safetensors' load_file), or the whole mapping stays resident
    next to the packed weights. (Without the native kernel, weight_t stays a file view.)"""
    return None if t is None else t.clone()
