"""The Llama family (Llama, SmolLM2, Mistral without sliding windows): RMSNorm, rotary
positions, grouped-query attention, a SwiGLU MLP.

`forward` runs the native step (native.py: the whole model in one C++ call) when the
native engine is available, else `forward_reference`, the same fixed-order algorithm in
PyTorch (fixed_order.py): both give the same bits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from billion_songs.core.engine import native
from billion_songs.core.engine.attention import KVCache, attend
from billion_songs.core.engine.fixed_order import rms_norm, silu
from billion_songs.core.engine.int8 import Int8Embedding, Int8Linear, own_copy


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int
    hidden_size: int  # model width D
    num_layers: int
    num_heads: int  # query heads H
    num_kv_heads: int  # key/value heads Hkv (H is a multiple)
    head_dim: int  # d; usually D // H
    intermediate_size: int  # MLP width
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_positions: int = 2048  # longest prompt + song the rotary table covers

    @classmethod
    def from_hf(cls, hf: dict) -> "LlamaConfig":
        rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
        if rope.get("rope_type", "default") not in ("default", None):
            raise ValueError(f"rope type {rope.get('rope_type')!r} is not supported")
        heads = hf["num_attention_heads"]
        return cls(
            vocab_size=hf["vocab_size"],
            hidden_size=hf["hidden_size"],
            num_layers=hf["num_hidden_layers"],
            num_heads=heads,
            num_kv_heads=hf.get("num_key_value_heads") or heads,
            head_dim=hf.get("head_dim") or hf["hidden_size"] // heads,
            intermediate_size=hf["intermediate_size"],
            rms_norm_eps=float(hf.get("rms_norm_eps", 1e-5)),
            rope_theta=float(rope.get("rope_theta") or hf.get("rope_theta") or 10000.0),
            max_positions=int(hf.get("max_position_embeddings", 2048)),
        )

    def as_dict(self) -> dict:
        return asdict(self)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding in Hugging Face's half-split layout. x: [B, H, L, d]; cos/sin: [B, 1, L, d]."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class LlamaModel:
    architecture = "llama"

    def __init__(self, config: LlamaConfig, tensors: dict[str, torch.Tensor]):
        self.config = config
        self.embed = Int8Embedding.from_tensors(tensors, "embed")
        self.lm_head = Int8Linear.from_tensors(tensors, "lm_head")
        self.final_norm = own_copy(tensors["final_norm"])
        self.layers = [
            {
                "attn_norm": own_copy(tensors[f"layers.{i}.attn_norm"]),
                "qkv": Int8Linear.from_tensors(tensors, f"layers.{i}.qkv"),
                "out": Int8Linear.from_tensors(tensors, f"layers.{i}.out"),
                "mlp_norm": own_copy(tensors[f"layers.{i}.mlp_norm"]),
                "gate_up": Int8Linear.from_tensors(tensors, f"layers.{i}.gate_up"),
                "down": Int8Linear.from_tensors(tensors, f"layers.{i}.down"),
            }
            for i in range(config.num_layers)
        ]
        inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, config.head_dim, 2, dtype=torch.float64) / config.head_dim))
        angles = torch.outer(torch.arange(config.max_positions, dtype=torch.float64), inv_freq)
        angles = torch.cat((angles, angles), dim=-1)  # [P, d]
        self.cos, self.sin = angles.cos().float(), angles.sin().float()
        self.native = native.LlamaStep.build(self)  # None without the native engine

    @staticmethod
    def convert(config: LlamaConfig, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Hugging Face LlamaForCausalLM state dict -> this engine's int8 tensors."""
        out: dict[str, torch.Tensor] = {}
        embed = Int8Embedding.from_float(state["model.embed_tokens.weight"])
        out.update(embed.tensors("embed"))
        head = state.get("lm_head.weight", state["model.embed_tokens.weight"])  # tied when absent
        out.update(Int8Linear.from_float(head).tensors("lm_head"))
        out["final_norm"] = state["model.norm.weight"].float()
        for i in range(config.num_layers):
            p = f"model.layers.{i}"
            qkv_w = torch.cat([state[f"{p}.self_attn.{n}_proj.weight"] for n in "qkv"])
            qkv_b = None
            if f"{p}.self_attn.q_proj.bias" in state:
                qkv_b = torch.cat([state[f"{p}.self_attn.{n}_proj.bias"] for n in "qkv"])
            out.update(Int8Linear.from_float(qkv_w, qkv_b).tensors(f"layers.{i}.qkv"))
            out.update(Int8Linear.from_float(state[f"{p}.self_attn.o_proj.weight"]).tensors(f"layers.{i}.out"))
            gate_up = torch.cat([state[f"{p}.mlp.gate_proj.weight"], state[f"{p}.mlp.up_proj.weight"]])
            out.update(Int8Linear.from_float(gate_up).tensors(f"layers.{i}.gate_up"))
            out.update(Int8Linear.from_float(state[f"{p}.mlp.down_proj.weight"]).tensors(f"layers.{i}.down"))
            out[f"layers.{i}.attn_norm"] = state[f"{p}.input_layernorm.weight"].float()
            out[f"layers.{i}.mlp_norm"] = state[f"{p}.post_attention_layernorm.weight"].float()
        return out

    def new_cache(self, batch: int, max_len: int) -> KVCache:
        c = self.config
        return KVCache(c.num_layers, batch, c.num_kv_heads, max_len, c.head_dim)

    def forward(self, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """tokens: int64 [B, L] (the prompt, or L=1 while decoding) -> logits [B, V] of the last position."""
        if self.native is not None:
            return self.native.forward(tokens, cache, self.config.max_positions)
        return self.forward_reference(tokens, cache)

    def forward_reference(self, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """`forward` in PyTorch, the fixed-order reference (and the path without a compiler)."""
        c = self.config
        batch, new = tokens.shape
        positions = cache.positions(new)  # [B, L]
        if int(positions.max()) >= c.max_positions:
            raise ValueError(f"{int(positions.max()) + 1} positions exceed the model's {c.max_positions}")
        cos, sin = self.cos[positions].unsqueeze(1), self.sin[positions].unsqueeze(1)  # [B, 1, L, d]
        mask = cache.key_mask()
        q_size, kv_size = c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim
        h = self.embed(tokens)  # [B, L, D]
        for i, layer in enumerate(self.layers):
            x = rms_norm(h, layer["attn_norm"], c.rms_norm_eps)
            q, k, v = layer["qkv"](x).split([q_size, kv_size, kv_size], dim=-1)
            q = rotate(q.view(batch, new, c.num_heads, c.head_dim).transpose(1, 2), cos, sin)  # [B, H, L, d]
            k = rotate(k.view(batch, new, c.num_kv_heads, c.head_dim).transpose(1, 2), cos, sin)  # [B, Hkv, L, d]
            v = v.view(batch, new, c.num_kv_heads, c.head_dim).transpose(1, 2)
            keys, values = cache.append(i, k, v)  # [B, Hkv, T, d]
            h = h + layer["out"](attend(q, keys, values, mask))
            x = rms_norm(h, layer["mlp_norm"], c.rms_norm_eps)
            gate, up = layer["gate_up"](x).chunk(2, dim=-1)
            h = h + layer["down"](silu(gate) * up)
        cache.advance(new)
        last = rms_norm(h[:, -1], self.final_norm, c.rms_norm_eps)  # [B, D]
        return self.lm_head(last)  # [B, V]
