"""`billion-songs export`: a trained model (run dir, checkpoint, adapter, HF checkpoint)
to an engine model directory that `billion-songs serve --model DIR` serves."""

from __future__ import annotations

from pathlib import Path

import click

from billion_songs.core.engine.modelfile import ModelLoadError


@click.command()
@click.argument("source", metavar="RUN_DIR", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", metavar="DIR", type=click.Path(path_type=Path), required=True,
              help="Engine model directory to write: absent, empty, or an earlier export (replaced atomically).")
@click.option("--name", default=None, help="Model name, the prefix of its model_version [default: the run's directory name].")
def export(source: Path, out_dir: Path, name: str | None) -> None:
    """Convert a trained model to the engine's int8 format.

    RUN_DIR is a `train` run directory (its final model, or its checkpoint when the run
    was interrupted), a checkpoint directory, a LoRA adapter or a Hugging Face checkpoint.
    """
    from billion_songs.core.tuning.export import export_model, find_model

    try:
        found = find_model(source)
        if found.from_checkpoint:
            click.echo(f"Exporting the checkpoint {found.path} (the run has no final model yet)", err=True)
        manifest = export_model(source, out_dir, name=name)
    except ModelLoadError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote {out_dir} ({manifest.architecture}, prompt style {manifest.prompt_style})")
    click.echo(f"model_version: {manifest.model_version}")
    click.echo(f"Serve it with: billion-songs serve --model {out_dir}")
