"""`billion-songs train`: tune a base model on a dataset written by `billion-songs prepare`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from billion_songs.core.tuning.train_config import METHODS, TrainConfig

D = TrainConfig(data="")  # the defaults, shown in --help
INTERRUPTED_EXIT = 130  # the shell's code for "stopped by Ctrl-C"


@click.command()
@click.option("--data", "data", metavar="DIR", type=click.Path(path_type=Path),
              help="Prepared dataset directory (from `billion-songs prepare`). Required unless --resume.")
@click.option("--out", metavar="RUN_DIR", default=D.out, show_default=True, type=click.Path(path_type=Path),
              help="Run directory: checkpoint/, loss.png and, at the end, the tuned model itself.")
@click.option("--base", default=D.base, show_default=True,
              help='"embedded" (SmolLM2-135M-Instruct), a Hugging Face checkpoint directory or hub id.')
@click.option("--method", type=click.Choice(METHODS), default=D.method, show_default=True,
              help="lora: a small adapter on a frozen base; full: every weight.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint (its own settings; "
              "only --max-steps may change).")
@click.option("--max-steps", type=click.IntRange(min=1), default=D.max_steps, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=D.batch_size, show_default=True,
              help="Chunks per micro-batch.")
@click.option("--grad-accum", type=click.IntRange(min=1), default=D.grad_accum, show_default=True,
              help="Micro-batches per optimizer step.")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Peak learning rate [default: 2e-4 for lora, 5e-5 for full].")
@click.option("--warmup-steps", type=click.IntRange(min=0), default=D.warmup_steps, show_default=True)
@click.option("--block-size", type=click.IntRange(min=2), default=None,
              help="Longest training sequence [default: the dataset's, capped by the model's context].")
@click.option("--lora-r", type=click.IntRange(min=1), default=D.lora_r, show_default=True)
@click.option("--lora-alpha", type=click.IntRange(min=1), default=D.lora_alpha, show_default=True)
@click.option("--lora-targets", default=D.lora_targets, show_default=True,
              help='Comma-separated module names, or "auto" (attention + MLP).')
@click.option("--eval-interval", type=click.IntRange(min=1), default=D.eval_interval, show_default=True,
              help="Validation loss every N steps.")
@click.option("--eval-batches", type=click.IntRange(min=1), default=D.eval_batches, show_default=True)
@click.option("--sample-interval", type=click.IntRange(min=0), default=D.sample_interval, show_default=True,
              help="Print sample songs every N steps (0: never).")
@click.option("--samples", type=click.IntRange(min=1), default=D.samples, show_default=True)
@click.option("--sample-tokens", type=click.IntRange(min=1), default=D.sample_tokens, show_default=True)
@click.option("--checkpoint-interval", type=click.IntRange(min=1), default=D.checkpoint_interval,
              show_default=True, help="Write a checkpoint every N steps (and at the end, and on Ctrl-C).")
@click.option("--seed", type=int, default=D.seed, show_default=True)
@click.option("--device", default=D.device, show_default=True, help='"auto" (CUDA when present), "cpu", "cuda".')
@click.option("--no-progress", is_flag=True, help="No progress bar (logs only).")
@click.pass_context
def train(ctx: click.Context, data: Path | None, out: Path, resume: bool, no_progress: bool, **options) -> None:
    """Tune a lyrics model with LoRA (default) or fully.

    Shows a progress bar with loss and tokens/s, validation loss every --eval-interval
    steps, sample songs every --sample-interval steps, and writes a checkpoint every
    --checkpoint-interval steps. Ctrl-C saves a checkpoint and exits; --resume continues.
    At the end RUN_DIR holds the tuned model (serve it with `billion-songs serve --model
    RUN_DIR`, or `billion-songs export` it) and loss.png.
    """
    from billion_songs.core.engine.modelfile import ModelLoadError
    from billion_songs.core.tuning import train as training
    from billion_songs.core.tuning.errors import PrepareError
    from billion_songs.core.tuning.train_config import TrainError

    try:
        if resume:
            given = _given(ctx)
            ignored = sorted(given - {"max_steps"})
            if ignored or data is not None:
                flags = {param.name: param.opts[0] for param in ctx.command.params}
                names = ", ".join(flags[name] for name in ignored + (["data"] if data else []))
                click.echo(f"Note: --resume continues with the run's own settings; ignoring {names}", err=True)
            result = training.resume(out, max_steps=options["max_steps"] if "max_steps" in given else None,
                                     progress=not no_progress)
        else:
            if data is None:
                raise click.UsageError("--data DIR is required (a directory written by `billion-songs prepare`)")
            config = TrainConfig(data=str(data), out=str(out), **options)
            result = training.train(config, progress=not no_progress)
    except (TrainError, PrepareError, ModelLoadError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("\nQuit without saving; the last checkpoint is intact.", err=True)
        sys.exit(INTERRUPTED_EXIT)

    losses = f"train loss {result.train_loss:.4f}" if result.train_loss is not None else "no steps"
    if result.val_loss is not None:
        losses += f", val loss {result.val_loss:.4f}"
    click.echo(f"Step {result.step}/{result.max_steps}: {losses}, {result.tokens_per_s:,.0f} tokens/s")
    click.echo(f"Checkpoint: {result.checkpoint}")
    click.echo(f"Loss curve: {result.loss_png}")
    if result.interrupted:
        click.echo(f"Interrupted. Continue with: billion-songs train --out {out} --resume")
        ctx.exit(INTERRUPTED_EXIT)
    click.echo(f"Model: {result.model_dir} (serve it with `billion-songs serve --model {result.model_dir}`, "
               f"or `billion-songs export {result.model_dir} --out DIR`)")


def _given(ctx: click.Context) -> set[str]:
    """Training options typed on the command line (not defaults)."""
    return {
        name for name in ctx.params
        if name not in ("out", "resume", "no_progress", "data")
        and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    }
