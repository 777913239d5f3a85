"""LoRA adapters (peft) on a base model: the small, shippable form of a tuned model.

    ADAPTER_DIR/
      adapter_config.json         peft config; base_model_name_or_path is "embedded",
                                  a checkpoint directory or a hub id
      adapter_model.safetensors   the adapter weights (and any resized embeddings)
      tokenizer.json ...          the tokenizer, when tuning added tokens (<|startoftitle|>)

The loader merges an adapter into its base once and converts the result into an engine
model directory in the cache, keyed by the adapter's files and the base.
"""

from __future__ import annotations

import json
from pathlib import Path

from billion_songs.core.embedded import load_embedded_hf
from billion_songs.core.engine.modelfile import ModelLoadError
from billion_songs.core.model_names import EMBEDDED

ADAPTER_CONFIG = "adapter_config.json"


def is_adapter_dir(path: Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def adapter_base(path: Path) -> str:
    try:
        config = json.loads((Path(path) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path / ADAPTER_CONFIG}: unreadable ({exc})") from None
    base = config.get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"{path / ADAPTER_CONFIG}: no base_model_name_or_path")
    return base


def load_base_hf(base: str):
    """A float `transformers` model and tokenizer for a base spec."""
    if base == EMBEDDED:
        return load_embedded_hf()
    import transformers  # heavy: imported only when a Hugging Face base is loaded
    from transformers import AutoModelForCausalLM, AutoTokenizer

    transformers.logging.set_verbosity_error()
    try:
        return AutoModelForCausalLM.from_pretrained(base), AutoTokenizer.from_pretrained(base)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"base model {base!r}: cannot load it ({exc})") from None


def merge_adapter(path: Path):
    """(merged float model, tokenizer) for an adapter directory."""
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelLoadError(f"{path}: loading a LoRA adapter needs peft (pip install peft)") from None
    from transformers import AutoTokenizer

    model, tokenizer = load_base_hf(adapter_base(path))
    if (Path(path) / "tokenizer.json").is_file() or (Path(path) / "tokenizer_config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    try:
        merged = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelLoadError(f"{path}: cannot apply the adapter to its base ({exc})") from None
    return merged, tokenizer
