"""Checkpoints: everything needed to continue a run exactly where it stopped.

    RUN_DIR/checkpoint/
      train_config.json    the run's TrainConfig (a checkpoint carries its own config)
      model/               the tuned weights in loadable form: an adapter dir (LoRA) or a
                           HF checkpoint (full), tokenizer included; export and the loader
                           take it as it is
      trainer_state.pt     step, optimizer, LR scheduler, batch sampler, RNG states, losses

A checkpoint is written to a hidden temporary directory beside RUN_DIR/checkpoint and
renamed into place; the previous one is moved aside first and deleted last. A crash at any
moment leaves either the new or the old checkpoint complete (the old one under
.checkpoint.old-*, which `find_checkpoint` also looks at).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from billion_songs.core.atomic import atomic_directory
from billion_songs.core.tuning.train_config import TrainConfig, TrainError

CHECKPOINT = "checkpoint"
MODEL = "model"
STATE = "trainer_state.pt"
CONFIG = "train_config.json"


@dataclass
class TrainerState:
    step: int  # optimizer steps completed
    tokens: int  # real (unpadded) training tokens seen
    optimizer: dict
    scheduler: dict
    sampler: dict  # ChunkSampler.state_dict()
    rng: dict  # {"torch": ByteTensor, "cuda": [ByteTensor, ...]}: dropout and new-row init
    train_losses: list = field(default_factory=list)  # [(step, loss)] per optimizer step
    val_losses: list = field(default_factory=list)  # [(step, loss)] per evaluation


def is_checkpoint(directory: Path) -> bool:
    return (Path(directory) / STATE).is_file() and (Path(directory) / CONFIG).is_file()


def find_checkpoint(run_dir: Path) -> Path | None:
    """The run's checkpoint directory, or None. Falls back to a checkpoint left aside by a
    crash in the middle of replacing it."""
    run_dir = Path(run_dir)
    if is_checkpoint(run_dir / CHECKPOINT):
        return run_dir / CHECKPOINT
    aside = sorted(run_dir.glob(f".{CHECKPOINT}.old-*/{CHECKPOINT}"), key=lambda p: p.stat().st_mtime)
    complete = [path for path in aside if is_checkpoint(path)]
    return complete[-1] if complete else None


def save_checkpoint(run_dir: Path, config: TrainConfig, tunable, state: TrainerState) -> Path:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / CHECKPOINT
    # A checkpoint moved aside by the swap stays findable (see latest_checkpoint) until removed.
    with atomic_directory(final) as staging:
        config.save(staging / CONFIG)
        tunable.save(staging / MODEL)
        torch.save(vars(state), staging / STATE)
    return final


def load_checkpoint(directory: Path) -> tuple[TrainConfig, TrainerState]:
    directory = Path(directory)
    if not is_checkpoint(directory):
        raise TrainError(f"{directory} is not a training checkpoint (no {STATE} and {CONFIG})")
    config = TrainConfig.load(directory / CONFIG)
    state = torch.load(directory / STATE, map_location="cpu", weights_only=True)
    return config, TrainerState(**state)


def capture_rng() -> dict:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state(), "cuda": cuda}


def restore_rng(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
