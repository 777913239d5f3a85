"""`train`: tune a base model on a prepared dataset, with LoRA or fully.

    prepared dir -> batches of chunks -> AdamW, warm-up + cosine LR, grad clipping
      every step:                progress bar (loss, tokens/s, LR)
      every eval_interval:       validation loss (the same val batches each time)
      every sample_interval:     sample songs printed in the lyrics format
      every checkpoint_interval: RUN_DIR/checkpoint/ (atomic; see checkpoint.py)
      Ctrl-C:                    finish the step, save a checkpoint, return (interrupted)
      end:                       the final model written into RUN_DIR itself (an adapter
                                 directory for LoRA, a HF checkpoint for full), loss.png

RUN_DIR then loads like any model: `billion-songs serve --model RUN_DIR`, `export`, `eval`.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from billion_songs.core.lyrics_format import END_OF_TEXT
from billion_songs.core.tuning.batches import IGNORE, Batch, ChunkSampler, fixed_batches
from billion_songs.core.tuning.checkpoint import (
    MODEL,
    TrainerState,
    capture_rng,
    find_checkpoint,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from billion_songs.core.tuning.dataset import load_prepared
from billion_songs.core.tuning.device import autocast, autocast_dtype, pick_device
from billion_songs.core.tuning.interrupt import StopRequest
from billion_songs.core.tuning.plot import plot_losses, smooth
from billion_songs.core.tuning.samples import format_samples, sample_songs
from billion_songs.core.tuning.train_config import LORA, TrainConfig, TrainError
from billion_songs.core.tuning.tunable import Tunable, build_tunable

LOSS_PNG = "loss.png"
Say = Callable[[str], None]
OnStep = Callable[[int, float], None]  # (step, loss) after each optimizer step


@dataclass
class TrainResult:
    run_dir: Path
    model_dir: Path | None  # RUN_DIR when the run completed and the final model is written
    checkpoint: Path
    step: int  # optimizer steps completed
    max_steps: int
    interrupted: bool  # stopped by Ctrl-C before max_steps
    train_loss: float | None  # smoothed training loss at the last step
    val_loss: float | None  # the last validation loss
    tokens_per_s: float  # training throughput of this session (evaluation time excluded)
    loss_png: Path


def train(config: TrainConfig, *, say: Say | None = None, progress: bool = True,
          on_step: OnStep | None = None) -> TrainResult:
    """Start a new run in config.out (which must not hold one already)."""
    config.validate()
    existing = find_checkpoint(Path(config.out))
    if existing is not None:
        step = load_checkpoint(existing)[1].step
        raise TrainError(
            f"{config.out} already holds a run (checkpoint at step {step}); pass --resume to continue "
            "it, or choose another --out"
        )
    return _run(config, None, say=say or _write, progress=progress, on_step=on_step)


def resume(run_dir: str | Path, *, max_steps: int | None = None, say: Say | None = None,
           progress: bool = True, on_step: OnStep | None = None) -> TrainResult:
    """Continue the run in `run_dir` from its checkpoint, with the config it was started
    with; `max_steps` may extend it."""
    checkpoint = find_checkpoint(Path(run_dir))
    if checkpoint is None:
        raise TrainError(f"no checkpoint to resume in {run_dir}")
    config, _ = load_checkpoint(checkpoint)
    config = replace(config, out=str(run_dir), max_steps=max_steps or config.max_steps)
    config.validate()
    return _run(config, checkpoint, say=say or _write, progress=progress, on_step=on_step)


def lr_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of the peak LR before optimizer step `step` (0-based): linear warm-up,
    then cosine decay to min_lr_ratio at max_steps (nanoGPT's schedule)."""
    if step < config.warmup_steps:
        return (step + 1) / (config.warmup_steps + 1)
    span = max(1, config.max_steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))  # 1 -> 0
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine


def _run(config: TrainConfig, checkpoint: Path | None, *, say: Say, progress: bool,
         on_step: OnStep | None) -> TrainResult:
    from transformers import AutoTokenizer

    run_dir = Path(config.out)
    data = load_prepared(config.data)
    tokenizer = AutoTokenizer.from_pretrained(str(data.tokenizer_dir))
    device = pick_device(config.device)
    dtype = autocast_dtype(device, config.precision)
    torch.manual_seed(config.seed)
    tunable = build_tunable(config, tokenizer, resume_from=checkpoint / MODEL if checkpoint else None)
    model = tunable.model.to(device)
    model.train()

    block_size = min(config.block_size or int(data.meta["block_size"]), tunable.max_positions)
    pad_id = tokenizer.convert_tokens_to_ids(END_OF_TEXT)  # any id: padding is masked out
    sampler = ChunkSampler(data.train, config.batch_size, block_size, pad_id, config.seed)
    val_batches = fixed_batches(data.val, config.batch_size, block_size, pad_id, config.eval_batches)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, betas=(0.9, 0.95), weight_decay=config.weight_decay,
                                  fused=device.type == "cuda")
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, config))
    if checkpoint is None:
        state = TrainerState(step=0, tokens=0, optimizer={}, scheduler={}, sampler={}, rng={})
    else:
        _, state = load_checkpoint(checkpoint)
        optimizer.load_state_dict(state.optimizer)
        scheduler.load_state_dict(state.scheduler)
        sampler.load_state_dict(state.sampler)
        restore_rng(state.rng)

    say(_banner(config, tunable, data, device, dtype, block_size, state.step))
    session_tokens, session_seconds = 0, 0.0
    last_saved = -1
    interrupted = False
    bar = tqdm(total=config.max_steps, initial=state.step, unit="step", disable=not progress,
               dynamic_ncols=True, file=sys.stderr)

    def save() -> Path:
        nonlocal last_saved
        state.optimizer, state.scheduler = optimizer.state_dict(), scheduler.state_dict()
        state.sampler, state.rng = sampler.state_dict(), capture_rng()
        last_saved = state.step
        return save_checkpoint(run_dir, config, tunable, state)

    with StopRequest(say) as stop:
        try:
            while state.step < config.max_steps and not stop.requested:
                lr = optimizer.param_groups[0]["lr"]  # the rate this step uses
                loss, tokens, seconds = _train_step(model, params, optimizer, scheduler, sampler, config,
                                                    device, dtype)
                state.step += 1
                state.tokens += tokens
                state.train_losses.append((state.step, loss))
                session_tokens, session_seconds = session_tokens + tokens, session_seconds + seconds
                bar.update(1)
                bar.set_postfix(loss=f"{_smoothed(state):.4f}", tok_s=f"{session_tokens / session_seconds:,.0f}",
                                lr=f"{lr:.2e}")
                if on_step is not None:
                    on_step(state.step, loss)
                _report(state, config, model, tokenizer, val_batches, device, dtype, say)
                if state.step % config.checkpoint_interval == 0 and state.step < config.max_steps:
                    save()
        except KeyboardInterrupt:
            if stop.aborted:
                bar.close()
                raise
            interrupted = True  # raised between updates (not by our handler): the state is consistent
        interrupted = interrupted or state.step < config.max_steps
        bar.close()
        optimizer.zero_grad(set_to_none=True)
        saved = save() if last_saved != state.step else find_checkpoint(run_dir)

    model_dir = None
    if not interrupted:
        model_dir = _publish_model(tunable, run_dir)
    name = run_dir.resolve().name
    png = plot_losses(state.train_losses, state.val_losses, run_dir / LOSS_PNG,
                      title=f"{name}: {config.method} on {Path(config.base).name}")
    return TrainResult(
        run_dir=run_dir,
        model_dir=model_dir,
        checkpoint=saved,
        step=state.step,
        max_steps=config.max_steps,
        interrupted=interrupted,
        train_loss=_smoothed(state) if state.train_losses else None,
        val_loss=state.val_losses[-1][1] if state.val_losses else None,
        tokens_per_s=session_tokens / session_seconds if session_seconds else 0.0,
        loss_png=png,
    )


def _train_step(model, params, optimizer, scheduler, sampler: ChunkSampler, config: TrainConfig,
                device: torch.device, dtype) -> tuple[float, int, float]:
    """One optimizer step over grad_accum micro-batches -> (mean loss, real tokens, seconds)."""
    started = time.perf_counter()
    loss_sum, tokens = 0.0, 0
    for _ in range(config.grad_accum):
        batch = sampler.next_batch()
        tokens += batch.tokens
        batch = batch.to(device)
        with autocast(device, dtype):
            out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels,
                        use_cache=False)  # loss: mean cross-entropy over the batch's real next tokens
        (out.loss / config.grad_accum).backward()
        loss_sum += out.loss.item()
    if config.grad_clip:
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum / config.grad_accum, tokens, time.perf_counter() - started


@torch.no_grad()
def evaluate(model, batches: list[Batch], device: torch.device, dtype=None) -> float | None:
    """Mean cross-entropy per predicted token over `batches` (None when there are none)."""
    if not batches:
        return None
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        predicted = int((batch.labels[:, 1:] != IGNORE).sum())  # HF shifts labels by one
        batch = batch.to(device)
        with autocast(device, dtype):
            out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels,
                        use_cache=False)
        total += out.loss.float().item() * predicted
        count += predicted
    model.train(was_training)
    return total / count if count else None


def _report(state: TrainerState, config: TrainConfig, model, tokenizer, val_batches, device, dtype,
            say: Say) -> None:
    step, last = state.step, state.step == config.max_steps
    if step % config.eval_interval == 0 or last:
        val = evaluate(model, val_batches, device, dtype)
        if val is not None:
            state.val_losses.append((step, val))
        shown = f"{val:.4f} (perplexity {math.exp(val):,.1f})" if val is not None else "n/a (no validation split)"
        say(f"step {step}: train loss {_smoothed(state):.4f}, val loss {shown}")
    if config.sample_interval and (step % config.sample_interval == 0 or last):
        songs = sample_songs(model, tokenizer, count=config.samples, max_new_tokens=config.sample_tokens,
                             seed=config.seed + step, device=device)
        say(format_samples(songs, step))


def _smoothed(state: TrainerState) -> float:
    return smooth([loss for _, loss in state.train_losses[-200:]])[-1]


def _banner(config, tunable: Tunable, data, device, dtype, block_size: int, step: int) -> str:
    method = f"LoRA r={config.lora_r}" if config.method == LORA else "full fine-tuning"
    new = f", new token rows {list(tunable.new_token_ids)}" if tunable.new_token_ids else ""
    precision = "bf16 autocast" if dtype is not None else "fp32"
    start = f"resuming at step {step}" if step else "starting"
    return (
        f"Tuning {config.base} with {method} on {data.directory} "
        f"({len(data.train):,} train / {len(data.val):,} val chunks): "
        f"{tunable.trainable_parameters:,} of {tunable.total_parameters:,} parameters trainable{new}; "
        f"{device.type} {precision}, block {block_size}, batch {config.batch_size}x{config.grad_accum}, "
        f"lr {config.lr:g}; {start}, {config.max_steps} steps -> {config.out}"
    )


def _publish_model(tunable: Tunable, run_dir: Path) -> Path:
    """Write the final model's files into run_dir: saved beside it, then each file renamed
    in, the config file (adapter_config.json / config.json) last, so run_dir only looks
    like a model once every file it names is in place."""
    staging = run_dir / f".model.partial-{secrets.token_hex(4)}"
    try:
        tunable.save(staging)
        names = sorted(p.name for p in staging.iterdir())
        last = {"adapter_config.json", "config.json"}
        for name in [n for n in names if n not in last] + [n for n in names if n in last]:
            os.replace(staging / name, run_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return run_dir


def _write(message: str) -> None:
    tqdm.write(message)
