"""The model being tuned: a base made to fit the dataset's tokenizer, then wrapped.

    base (embedded SmolLM2, a HF checkpoint dir or hub id)
      -> the dataset's tokenizer must extend the base's (same ids for every base token)
      -> embeddings resized for the tokens prepare added (<|startoftitle|>)
      -> LoRA: peft adapters on attention + MLP, plus the new tokens' embedding rows
         (peft's trainable_token_indices: only those rows are trained and saved)
         full: every weight trainable

Saved, the LoRA form is an adapter directory (billion_songs.core.adapters) whose
base_model_name_or_path is the base spec; the full form is a Hugging Face checkpoint.
Both load with billion_songs.core.loader, so `serve --model` takes either.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from billion_songs.core.tuning.train_config import FULL, LORA, TrainConfig, TrainError

# model_type -> the modules LoRA adapts when lora_targets is "auto": attention and MLP.
# (GPT-2's "c_proj" is both the attention output and the MLP output projection.)
LORA_TARGETS = {
    "gpt2": ("c_attn", "c_proj", "c_fc"),
    "llama": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "mistral": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
}
_CONV1D_FAMILIES = ("gpt2",)  # weights stored (in, out): peft needs fan_in_fan_out=True


@dataclass
class Tunable:
    model: torch.nn.Module  # a peft PeftModel (LoRA) or the transformers model (full)
    tokenizer: Any  # the dataset's tokenizer: the base's plus the lyrics markers
    method: str  # LORA or FULL
    base: str  # the base spec as an adapter records it: "embedded", an absolute path or a hub id
    new_token_ids: tuple[int, ...]  # ids the base did not know; LoRA trains their embedding rows
    max_positions: int  # the model's context length

    @property
    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    @property
    def total_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def save(self, directory: Path) -> None:
        """Write the model in its loadable form (adapter dir or HF checkpoint) + tokenizer."""
        directory.mkdir(parents=True, exist_ok=True)
        if self.method == LORA:
            self.model.peft_config["default"].base_model_name_or_path = self.base
            # The new token rows are in the adapter already (trainable_token_indices); never
            # the whole embedding matrix, and never ask the hub whether the vocab changed.
            self.model.save_pretrained(str(directory), save_embedding_layers=False)
            (directory / "README.md").unlink(missing_ok=True)  # peft's empty model card
        else:
            self.model.save_pretrained(str(directory))
        self.tokenizer.save_pretrained(str(directory))


def base_spec(base: str) -> str:
    """"embedded" and hub ids as given; a local directory as an absolute path, so the
    adapter finds its base from anywhere."""
    path = Path(base).expanduser()
    return str(path.resolve()) if path.exists() else base


def build_tunable(config: TrainConfig, tokenizer, *, resume_from: Path | None = None) -> Tunable:
    """The model for `config`: a fresh wrap of the base, or the checkpointed model at
    `resume_from` (an adapter dir or HF checkpoint written by Tunable.save)."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # "Loading weights" bars: noise next to ours
    spec = base_spec(config.base)
    if config.method == FULL and resume_from is not None:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(str(resume_from), dtype=torch.float32)
        return Tunable(model, tokenizer, FULL, spec, (), _max_positions(model.config))

    base_model, base_tokenizer = _load_base(spec)
    base_model = _plain_float(base_model)
    check_vocab(base_tokenizer, tokenizer, spec)
    known = base_tokenizer.get_vocab()
    new_ids = tuple(sorted(index for token, index in tokenizer.get_vocab().items() if token not in known))
    if len(tokenizer) > base_model.get_input_embeddings().weight.shape[0]:
        # New rows start near the mean embedding (transformers' mean_resizing), drawn from
        # the seeded global RNG, so a run is reproducible.
        base_model.resize_token_embeddings(len(tokenizer))
    max_positions = _max_positions(base_model.config)
    if config.method == FULL:
        return Tunable(base_model, tokenizer, FULL, spec, new_ids, max_positions)

    from peft import LoraConfig, PeftModel, get_peft_model

    with warnings.catch_warnings():  # peft calls a transformers method deprecated in v5
        warnings.filterwarnings("ignore", category=FutureWarning)
        if resume_from is not None:
            model = PeftModel.from_pretrained(base_model, str(resume_from), is_trainable=True)
        else:
            model_type = base_model.config.model_type
            lora = LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=list(lora_targets(config.lora_targets, model_type)),
                fan_in_fan_out=model_type in _CONV1D_FAMILIES,
                trainable_token_indices=list(new_ids) or None,
                bias="none",
                task_type="CAUSAL_LM",
            )
            model = get_peft_model(base_model, lora)
    return Tunable(model, tokenizer, LORA, spec, new_ids, max_positions)


def lora_targets(spec: str, model_type: str) -> tuple[str, ...]:
    if spec != "auto":
        return tuple(name.strip() for name in spec.split(",") if name.strip())
    if model_type not in LORA_TARGETS:
        raise TrainError(
            f"no default LoRA targets for model type {model_type!r}; pass --lora-targets "
            "with the names of its linear layers"
        )
    return LORA_TARGETS[model_type]


def check_vocab(base_tokenizer, data_tokenizer, base: str) -> None:
    """Every token of the base must keep its id in the dataset's tokenizer; otherwise the
    data was prepared for another model and training would teach it nonsense."""
    data_vocab = data_tokenizer.get_vocab()
    base_vocab = base_tokenizer.get_vocab()
    differing = [token for token, index in base_vocab.items() if data_vocab.get(token) != index]
    if differing:
        raise TrainError(
            f"the dataset's tokenizer does not match base {base!r} ({len(differing):,} of "
            f"{len(base_vocab):,} tokens differ, e.g. {differing[0]!r}); prepare the CSV again "
            "with --tokenizer set to that model's tokenizer directory"
        )


def _load_base(spec: str):
    from billion_songs.core.adapters import load_base_hf
    from billion_songs.core.engine.modelfile import ModelLoadError

    try:
        return load_base_hf(spec)
    except ModelLoadError as exc:
        raise TrainError(str(exc)) from None


def _plain_float(model):
    """fp32 master weights (autocast gives bf16 compute on CUDA). The embedded base is read
    from a GGUF file: dequantized to float already, but still marked as quantized, which
    would make transformers refuse to cast it and write a GGUF quantization_config into a
    fully tuned checkpoint. The marks go; the weights are ordinary float tensors."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and "gguf" in type(quantizer).__name__.lower():
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    if any(p.dtype != torch.float32 for p in model.parameters()):
        model = model.float()
    return model


def _max_positions(model_config) -> int:
    for name in ("n_positions", "max_position_embeddings"):
        if getattr(model_config, name, None):
            return int(getattr(model_config, name))
    return 1024
