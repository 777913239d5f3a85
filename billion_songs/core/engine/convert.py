"""Hugging Face causal LM (model + tokenizer objects) -> engine model directory."""

from __future__ import annotations

from pathlib import Path

from billion_songs.core.engine.gpt2 import GPT2Config, GPT2Model
from billion_songs.core.engine.llama import LlamaConfig, LlamaModel
from billion_songs.core.engine.modelfile import GenerationSettings, ModelLoadError, ModelManifest, write_model_dir
from billion_songs.core.lyrics_format import START_OF_TITLE

# Hugging Face model_type -> (engine architecture, config class, model class)
_FAMILIES = {
    "llama": ("llama", LlamaConfig, LlamaModel),
    "mistral": ("llama", LlamaConfig, LlamaModel),
    "gpt2": ("gpt2", GPT2Config, GPT2Model),
}


def detect_prompt_style(tokenizer) -> str:
    """Lyrics-tuned models know <|startoftitle|>; chat models get an instruct prompt."""
    vocab = tokenizer.get_vocab()
    if START_OF_TITLE in vocab:
        return "lyrics"
    if "<|im_start|>" in vocab and "<|im_end|>" in vocab:
        return "chatml"
    return "plain"


def end_tokens(tokenizer, prompt_style: str) -> tuple[int, ...]:
    vocab = tokenizer.get_vocab()
    ends = set()
    if tokenizer.eos_token_id is not None:
        ends.add(int(tokenizer.eos_token_id))
    for token in ("<|endoftext|>", "<|im_end|>") if prompt_style == "chatml" else ("<|endoftext|>",):
        if token in vocab:
            ends.add(int(vocab[token]))
    if not ends:
        raise ModelLoadError("the tokenizer has no end-of-text token")
    return tuple(sorted(ends))


def convert_hf_model(
    hf_model,
    tokenizer,
    out_dir: Path,
    *,
    name: str,
    source: dict,
    generation: GenerationSettings | None = None,
) -> ModelManifest:
    """Quantize a loaded `transformers` causal LM to int8 and write an engine directory."""
    hf_config = hf_model.config.to_dict()
    model_type = hf_config.get("model_type")
    if model_type not in _FAMILIES:
        raise ModelLoadError(
            f"{source.get('path', name)}: model type {model_type!r} is not supported "
            f"(supported: {', '.join(sorted(_FAMILIES))})"
        )
    architecture, config_cls, model_cls = _FAMILIES[model_type]
    config = config_cls.from_hf(hf_config)
    if len(tokenizer) > config.vocab_size:
        raise ModelLoadError(f"{name}: tokenizer has {len(tokenizer)} tokens but the model only {config.vocab_size}")
    tensors = model_cls.convert(config, {k: v for k, v in hf_model.state_dict().items()})
    prompt_style = detect_prompt_style(tokenizer)
    return write_model_dir(
        out_dir,
        name=name,
        architecture=architecture,
        config=config.as_dict(),
        tensors=tensors,
        tokenizer_json=tokenizer.backend_tokenizer.to_str(),
        prompt_style=prompt_style,
        end_token_ids=end_tokens(tokenizer, prompt_style),
        generation=generation,
        source=source,
    )
