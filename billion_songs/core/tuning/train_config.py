"""The training configuration: every knob of `billion-songs train`, with its default.

A checkpoint stores this config (train_config.json), so `--resume` continues the run that
was started, not whatever the command line says today (only max_steps may be raised).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from pathlib import Path

LORA = "lora"  # low-rank adapters on the attention and MLP matrices (peft); the base stays frozen
FULL = "full"  # every weight is trained; the result is a whole Hugging Face checkpoint
METHODS = (LORA, FULL)
DEFAULT_LR = {LORA: 2e-4, FULL: 5e-5}  # LoRA's few weights tolerate (and need) a larger step


class TrainError(Exception):
    """A problem with the training setup (bad config, data that does not fit the base...);
    the message says what to change."""


@dataclass(frozen=True)
class TrainConfig:
    data: str  # a prepared dataset directory (`billion-songs prepare`)
    out: str = "runs/lyrics"  # run directory: checkpoint/, the final model, loss.png, log.jsonl
    base: str = "embedded"  # "embedded" (SmolLM2-135M-Instruct), a HF checkpoint dir or a hub id
    method: str = LORA  # "lora" (small adapter, base frozen) or "full" (every weight)
    # LoRA
    lora_r: int = 16  # rank of each adapter: 16 is plenty for style and format
    lora_alpha: int = 32  # adapter scale is alpha / r
    lora_dropout: float = 0.05  # dropout on the adapter's input
    lora_targets: str = "auto"  # comma-separated module names; "auto": attention + MLP of the family
    # optimization
    max_steps: int = 1000  # optimizer steps in the whole run
    batch_size: int = 8  # chunks per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step (effective batch = batch_size * grad_accum)
    learning_rate: float | None = None  # peak learning rate; None: 2e-4 for LoRA, 5e-5 for full
    min_lr_ratio: float = 0.1  # cosine decay ends at learning_rate * min_lr_ratio
    warmup_steps: int = 50  # linear warm-up from 0 to the peak
    weight_decay: float = 0.0  # AdamW decoupled weight decay (0: none, usual for LoRA)
    grad_clip: float = 1.0  # clip the global gradient norm to this (0: no clipping)
    block_size: int | None = None  # longest sequence; None: the dataset's, capped by the model's context
    # reporting
    eval_interval: int = 100  # validation loss every this many steps (and at the end)
    eval_batches: int = 20  # validation batches per evaluation (the same ones every time)
    sample_interval: int = 200  # print sample songs every this many steps (0: never)
    samples: int = 2  # songs per sampling
    sample_tokens: int = 160  # longest sample song, in tokens
    checkpoint_interval: int = 200  # write a checkpoint every this many steps (and at the end)
    # machine
    seed: int = 1337  # model init (new token rows, adapters), batch order, dropout
    device: str = "auto"  # "auto": CUDA when present, else CPU; or "cpu", "cuda", "cuda:1"
    precision: str = "auto"  # "auto": bf16 autocast on CUDA that supports it, else fp32; or "fp32"

    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LR[self.method]

    def validate(self) -> None:
        if self.method not in METHODS:
            raise TrainError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        positive = ("max_steps", "batch_size", "grad_accum", "lora_r", "eval_interval", "eval_batches",
                    "checkpoint_interval", "samples", "sample_tokens")
        for name in positive:
            if getattr(self, name) < 1:
                raise TrainError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "sample_interval", "weight_decay", "grad_clip", "lora_dropout"):
            if getattr(self, name) < 0:
                raise TrainError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.lr <= 0:
            raise TrainError(f"learning rate must be positive, got {self.lr}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise TrainError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.block_size is not None and self.block_size < 2:
            raise TrainError(f"block_size must be at least 2, got {self.block_size}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise TrainError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
