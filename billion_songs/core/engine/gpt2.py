"""The GPT-2 family (gpt2, distilgpt2, local GPT-2 checkpoints): learned positions,
pre-LayerNorm blocks, multi-head attention, a GELU MLP, tied output embeddings.

GPT-2 has no native step: its forward is the fixed-order PyTorch path (fixed_order.py),
the same bits on every CPU, with the native int8 products when they are available."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from billion_songs.core.engine.attention import KVCache, attend
from billion_songs.core.engine.fixed_order import gelu_tanh, layer_norm
from billion_songs.core.engine.int8 import Int8Embedding, Int8Linear, own_copy


@dataclass(frozen=True)
class GPT2Config:
    vocab_size: int
    n_embd: int  # model width D
    n_layer: int
    n_head: int  # heads H; head size d = D // H
    n_positions: int  # learned position table size: the longest prompt + song
    layer_norm_epsilon: float = 1e-5

    @classmethod
    def from_hf(cls, hf: dict) -> "GPT2Config":
        return cls(
            vocab_size=hf["vocab_size"],
            n_embd=hf["n_embd"],
            n_layer=hf["n_layer"],
            n_head=hf["n_head"],
            n_positions=hf.get("n_positions", 1024),
            layer_norm_epsilon=float(hf.get("layer_norm_epsilon", 1e-5)),
        )

    def as_dict(self) -> dict:
        return asdict(self)


class GPT2Model:
    architecture = "gpt2"

    def __init__(self, config: GPT2Config, tensors: dict[str, torch.Tensor]):
        self.config = config
        self.wte = Int8Embedding.from_tensors(tensors, "wte")
        self.lm_head = Int8Linear.from_tensors(tensors, "lm_head")
        self.wpe = own_copy(tensors["wpe"])
        self.ln_f = (own_copy(tensors["ln_f.weight"]), own_copy(tensors["ln_f.bias"]))
        self.layers = [
            {
                "ln_1": (own_copy(tensors[f"h.{i}.ln_1.weight"]), own_copy(tensors[f"h.{i}.ln_1.bias"])),
                "qkv": Int8Linear.from_tensors(tensors, f"h.{i}.qkv"),
                "out": Int8Linear.from_tensors(tensors, f"h.{i}.out"),
                "ln_2": (own_copy(tensors[f"h.{i}.ln_2.weight"]), own_copy(tensors[f"h.{i}.ln_2.bias"])),
                "fc": Int8Linear.from_tensors(tensors, f"h.{i}.fc"),
                "proj": Int8Linear.from_tensors(tensors, f"h.{i}.proj"),
            }
            for i in range(config.n_layer)
        ]

    @staticmethod
    def convert(config: GPT2Config, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Hugging Face GPT2LMHeadModel state dict -> this engine's int8 tensors.
        GPT-2's Conv1D stores weights as [in, out], hence the transposes."""
        state = {k.removeprefix("transformer."): v for k, v in state.items()}
        out: dict[str, torch.Tensor] = {}
        out.update(Int8Embedding.from_float(state["wte.weight"]).tensors("wte"))
        out.update(Int8Linear.from_float(state.get("lm_head.weight", state["wte.weight"])).tensors("lm_head"))
        out["wpe"] = state["wpe.weight"].float()
        out["ln_f.weight"], out["ln_f.bias"] = state["ln_f.weight"].float(), state["ln_f.bias"].float()
        for i in range(config.n_layer):
            p = f"h.{i}"
            for ln in ("ln_1", "ln_2"):
                out[f"{p}.{ln}.weight"] = state[f"{p}.{ln}.weight"].float()
                out[f"{p}.{ln}.bias"] = state[f"{p}.{ln}.bias"].float()
            pairs = {"qkv": "attn.c_attn", "out": "attn.c_proj", "fc": "mlp.c_fc", "proj": "mlp.c_proj"}
            for name, hf_name in pairs.items():
                lin = Int8Linear.from_float(state[f"{p}.{hf_name}.weight"].t(), state[f"{p}.{hf_name}.bias"])
                out.update(lin.tensors(f"{p}.{name}"))
        return out

    def new_cache(self, batch: int, max_len: int) -> KVCache:
        c = self.config
        return KVCache(c.n_layer, batch, c.n_head, max_len, c.n_embd // c.n_head)

    def forward(self, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """tokens: int64 [B, L] -> logits [B, V] of the last position."""
        c = self.config
        batch, new = tokens.shape
        positions = cache.positions(new)  # [B, L]
        if int(positions.max()) >= c.n_positions:
            raise ValueError(f"{int(positions.max()) + 1} positions exceed the model's {c.n_positions}")
        mask = cache.key_mask()
        head_dim = c.n_embd // c.n_head
        h = self.wte(tokens) + self.wpe[positions]  # [B, L, D]
        for i, layer in enumerate(self.layers):
            x = layer_norm(h, *layer["ln_1"], c.layer_norm_epsilon)
            q, k, v = layer["qkv"](x).view(batch, new, 3, c.n_head, head_dim).permute(2, 0, 3, 1, 4)  # 3 x [B, H, L, d]
            keys, values = cache.append(i, k, v)
            h = h + layer["out"](attend(q, keys, values, mask))
            x = layer_norm(h, *layer["ln_2"], c.layer_norm_epsilon)
            h = h + layer["proj"](gelu_tanh(layer["fc"](x)))
        cache.advance(new)
        last = layer_norm(h[:, -1], *self.ln_f, c.layer_norm_epsilon)  # [B, D]
        return self.lm_head(last)  # [B, V]
