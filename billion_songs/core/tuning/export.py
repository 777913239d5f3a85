"""`export`: a training result -> an engine model directory (int8, billion_songs_model.json).

Accepted sources, all of which `train` writes:
  - a run directory after a completed run (the final adapter or HF checkpoint is in it)
  - a run directory of an interrupted run, or its checkpoint/ directory: the checkpoint's
    model/ is exported
  - an adapter directory (merged into its base first) or a Hugging Face checkpoint dir

The result's model_version hashes its weights, so it differs from the base's whenever
tuning changed a weight; songs stored under the base keep their version and stay as
they were.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from billion_songs.core.adapters import adapter_base, is_adapter_dir, merge_adapter
from billion_songs.core.atomic import atomic_directory
from billion_songs.core.engine.modelfile import ModelLoadError, ModelManifest, is_model_dir
from billion_songs.core.tuning.checkpoint import CHECKPOINT, MODEL, find_checkpoint, is_checkpoint


@dataclass(frozen=True)
class ExportSource:
    path: Path  # the adapter or HF checkpoint directory actually exported
    kind: str  # "lora" or "huggingface"
    from_checkpoint: bool  # True when taken from a checkpoint (an unfinished run)


def find_model(source: str | Path) -> ExportSource:
    """The loadable model inside `source` (see the module docstring)."""
    path = Path(source).expanduser()
    if not path.is_dir():
        raise ModelLoadError(f"{path}: no such directory")
    if is_model_dir(path):
        raise ModelLoadError(f"{path} is already an engine model directory; serve it as it is")
    from_checkpoint = False
    if not (is_adapter_dir(path) or (path / "config.json").is_file()):
        checkpoint = path if is_checkpoint(path) else find_checkpoint(path)
        if checkpoint is None:
            raise ModelLoadError(
                f"{path}: neither a model (adapter_config.json or config.json) nor a training run "
                f"with a {CHECKPOINT}/ directory"
            )
        path, from_checkpoint = checkpoint / MODEL, True
    kind = "lora" if is_adapter_dir(path) else "huggingface"
    return ExportSource(path.resolve(), kind, from_checkpoint)


def check_export_dir(out_dir: Path) -> None:
    """Refuse, before any work, to write over anything but an absent or empty directory
    or an earlier engine model directory (the same rule as `prepare --out`): a typo must
    never delete a training run, its source, or any other directory."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ModelLoadError(f"--out {out_dir} exists and is not a directory")
    if any(out_dir.iterdir()) and not is_model_dir(out_dir):
        raise ModelLoadError(
            f"--out {out_dir} is a non-empty directory that is not an engine model directory; "
            "choose another directory"
        )


def export_model(source: str | Path, out_dir: str | Path, *, name: str | None = None) -> ModelManifest:
    """Convert the model in `source` to an engine directory at `out_dir`; the manifest's
    model_version is the exported model's version. `out_dir` must be absent, empty or an
    earlier engine model directory (check_export_dir), checked before and after the work."""
    import transformers

    from billion_songs.core.engine.convert import convert_hf_model

    out_dir = Path(out_dir)
    check_export_dir(out_dir)
    transformers.logging.disable_progress_bar()  # "Loading weights" bars: export prints its own lines
    found = find_model(source)
    name = name or default_name(source)
    if found.kind == "lora":
        with warnings.catch_warnings():  # peft calls a transformers method deprecated in v5
            warnings.filterwarnings("ignore", category=FutureWarning)
            model, tokenizer = merge_adapter(found.path)
        origin = {"kind": "lora", "path": str(found.path), "base": adapter_base(found.path)}
    else:
        model, tokenizer = _load_hf(found.path)
        origin = {"kind": "huggingface", "path": str(found.path)}
    if found.from_checkpoint:
        origin["checkpoint"] = True
    # The converter writes its directory atomically but replaces whatever is at its path;
    # so it writes into an empty staging directory of ours, which replaces `out_dir` only
    # if `out_dir` still passes the check (nothing unexpected appeared there meanwhile).
    with atomic_directory(out_dir, check=check_export_dir) as staging:
        return convert_hf_model(model.eval(), tokenizer, staging, name=name, source=origin)


def default_name(source: str | Path) -> str:
    """The run's directory name: `runs/verse-lora` exports as "verse-lora"."""
    path = Path(source).expanduser().resolve()
    while path.name in (CHECKPOINT, MODEL) and path.parent != path:
        path = path.parent
    return path.name or "tuned"


def _load_hf(path: Path):
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    transformers.logging.set_verbosity_error()
    try:
        return AutoModelForCausalLM.from_pretrained(str(path)), AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{path}: cannot load it as a Hugging Face causal LM ({exc})") from None
