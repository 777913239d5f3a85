"""The native decode step: a Llama-family model's whole forward in one C++ call.

One call per model step runs, for every query row of the batch (a cache row at its
position): embedding, and per layer RMSNorm, 7-bit quantization, the exact int8 products,
RoPE, the new keys and values into the cache, attention over the row's own keys, the
output projection, SwiGLU and the residuals; then the final norm and the logits of each
row's last token. Threads split rows or output channels, never a row's sum, and the float
work is fixed_order.py's, operation for operation, so the bits are those of the PyTorch
path (`LlamaModel.forward_reference`), on every CPU kind, alone or in any batch.

The step reads the model's weights where `Int8Linear` keeps them (no copy) and writes the
caches' tensors in place, so KVCache and RowCache work unchanged. In a RowCache only the
rows that take a token this step run (a candidate line that is done while its siblings
write on waits for free); the PyTorch path computes the waiting rows and discards them.
"""

from __future__ import annotations

import torch

from billion_songs.core.engine import gemv, kernels
from billion_songs.core.engine.attention import KVCache, RowCache

_NO_BIAS = torch.zeros(0)
# Query rows per native call during a prefill: a batch of long prompts goes in groups of
# whole cache rows (rows never read each other), which bounds the step's scratch memory.
_MAX_QUERY_ROWS = 512


def _linear(layer) -> list[torch.Tensor]:
    packed = layer.gemv_packed
    return [packed.w, packed.row_sums, layer.scale.contiguous(),
            _NO_BIAS if layer.bias is None else layer.bias.contiguous()]


class LlamaStep:
    def __init__(self, model, module):
        c = model.config
        linears, norms = [], []
        for layer in model.layers:
            linears += [_linear(layer[name]) for name in ("qkv", "out", "gate_up", "down")]
            norms += [layer["attn_norm"].float().contiguous(), layer["mlp_norm"].float().contiguous()]
        self._step = module.LlamaStep(
            linears, norms, model.embed.weight.contiguous(), model.embed.scale.float().contiguous(),
            model.final_norm.float().contiguous(), _linear(model.lm_head), model.cos.contiguous(),
            model.sin.contiguous(), c.num_heads, c.num_kv_heads, c.head_dim, c.intermediate_size,
            c.rms_norm_eps, c.head_dim ** -0.5)
        self.vocab_size = model.lm_head.out_features

    @classmethod
    def build(cls, model) -> "LlamaStep | None":
        """The step for `model`, or None when the native engine is unavailable."""
        module = kernels.native()
        if module is None or not gemv.available():
            return None
        return cls(model, module)

    def forward(self, tokens: torch.Tensor, cache: KVCache, max_positions: int) -> torch.Tensor:
        """As LlamaModel.forward: tokens int64 [B, L] -> logits [B, V] of each row's last position."""
        batch, new = tokens.shape
        positions = cache.positions(new)  # [B, L]; raises past a RowCache's end
        key_count = cache.key_count(new)  # raises past a KVCache's end
        if int(positions.max()) >= max_positions:
            raise ValueError(f"{int(positions.max()) + 1} positions exceed the model's {max_positions}")
        if isinstance(cache, RowCache) and not bool(cache.stepping.all()):
            return self._stepping_rows(tokens, cache, positions, key_count)
        flat_positions = positions.reshape(-1).contiguous()
        group = max(1, _MAX_QUERY_ROWS // new)
        parts = []
        for first in range(0, batch, group):
            rows = torch.arange(first, min(batch, first + group))
            query = slice(first * new, (first + len(rows)) * new)
            last = torch.arange(len(rows)) * new + (new - 1)
            parts.append(self._step.forward(tokens[rows].reshape(-1).contiguous(), rows.repeat_interleave(new),
                                            flat_positions[query].contiguous(), cache.k, cache.v, key_count, last))
        logits = parts[0] if len(parts) == 1 else torch.cat(parts)
        cache.advance(new)
        return logits

    def _stepping_rows(self, tokens: torch.Tensor, cache: RowCache, positions: torch.Tensor,
                       key_count: int) -> torch.Tensor:
        """Only the rows that take their token this step run; a waiting row's logits are
        zeros and its cache is left as it is (the PyTorch path computes and discards
        both). Rows are independent, so the running rows' bits are the same either way."""
        rows = cache.stepping.nonzero().reshape(-1)
        logits = torch.zeros(tokens.shape[0], self.vocab_size)
        if len(rows):
            logits[rows] = self._step.forward(tokens[rows, 0].contiguous(), rows, positions[rows, 0].contiguous(),
                                              cache.k, cache.v, key_count, torch.arange(len(rows)))
        cache.advance(1)
        return logits
