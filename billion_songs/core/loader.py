"""One loader for every way to name a model.

- None or "default": the embedded SmolLM2-135M-Instruct with the songwriting decoder.
- "embedded": the same model, named (prepared on first use).
- "verse": the shipped verse adapter (billion_songs/shipped/verse-lora) with the free-form
  decoder it was served with before the songwriting decoder: the old default, kept
  reachable for comparison (`eval --model verse --model default`).
- A directory with billion_songs_model.json: an engine model (export's output).
- A directory with config.json: a Hugging Face checkpoint (GPT-2 family, Llama family),
  converted once into the cache, keyed by the hash of its files.
- A directory with adapter_config.json: a LoRA adapter (see `adapters`), merged into its
  base and converted once, the same way.
- Anything else, e.g. "gpt2" or "distilgpt2": a Hugging Face hub id, used when the hub
  can be reached (never on this project's machines), converted and cached the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import torch

from billion_songs.core.adapters import adapter_base, is_adapter_dir, merge_adapter
from billion_songs.core.embedded import ensure_embedded_model
from billion_songs.core.engine import kernels
from billion_songs.core.engine.modelfile import (
    LoadedModel,
    ModelLoadError,
    is_model_dir,
    read_model_dir,
    sha256_file,
)
from billion_songs.core.generation_settings import GenerationSettings
from billion_songs.core.generator import DEFAULT_MAX_BATCH, ModelLyricsGenerator, set_threads
from billion_songs.core.model_names import DEFAULT, EMBEDDED, VERSE
from billion_songs.core.paths import cache_dir
from billion_songs.core.progress import say

# Threads a process gets by default (torch's intra-op count before a generator lowers it).
_MACHINE_THREADS = torch.get_num_threads()

SHIPPED_ADAPTER = Path(__file__).resolve().parent.parent / "shipped" / "verse-lora"
DECODERS = ("song", "free")
# Named models that keep the decoder they were made for, unless one is asked for.
_NAMED_DECODERS = {VERSE: "free"}


def default_model_spec() -> str:
    """The model a site serves when none is named."""
    return EMBEDDED
_HF_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json",
             "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")


_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "tokenizer.json",
                  "tokenizer_config.json")


def _files_hash(path: Path, names: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in names:
        if (path / name).is_file():
            digest.update(name.encode() + sha256_file(path / name).encode())
    return digest.hexdigest()[:16]


def _convert_hf(source: str, out_dir: Path, *, name: str) -> None:
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from billion_songs.core.engine.convert import convert_hf_model

    transformers.logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{source}: cannot load it as a Hugging Face causal LM ({exc})") from None
    convert_hf_model(model, tokenizer, out_dir, name=name, source={"kind": "huggingface", "path": source})


def resolve_model_dir(spec: str | None = None) -> Path:
    """The engine model directory for `spec`, converting (once) when needed."""
    if spec is None or spec == DEFAULT:
        spec = default_model_spec()
    if spec == VERSE:
        spec = str(SHIPPED_ADAPTER)
    if spec == EMBEDDED:
        return ensure_embedded_model()
    path = Path(spec).expanduser()
    if path.exists():
        path = path.resolve()
        if is_model_dir(path):
            return path
        if is_adapter_dir(path):
            base = adapter_base(path)
            key = hashlib.sha256((base + _files_hash(path, _ADAPTER_FILES)).encode()).hexdigest()[:16]
            target = cache_dir() / "models" / "adapters" / f"{path.name}-{key}"
            if not is_model_dir(target):
                say(f"merging the adapter {path} into {base} and converting it (once) -> {target}")
                from billion_songs.core.engine.convert import convert_hf_model

                model, tokenizer = merge_adapter(path)
                convert_hf_model(model, tokenizer, target, name=path.name,
                                 source={"kind": "lora", "path": str(path), "base": base})
            return target
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"{path}: not a model directory (expected billion_songs_model.json from "
                "`billion-songs export`, or a Hugging Face checkpoint with config.json)"
            )
        target = cache_dir() / "models" / "converted" / f"{path.name}-{_files_hash(path, _HF_FILES)}"
        if not is_model_dir(target):
            say(f"converting the Hugging Face checkpoint {path} to int8 (once) -> {target}")
            _convert_hf(str(path), target, name=path.name)
        return target
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ModelLoadError(f"{spec}: no such model directory")
    target = cache_dir() / "models" / "hub" / spec.replace("/", "--")
    if not is_model_dir(target):
        say(f"fetching {spec} from the Hugging Face hub and converting it (once)")
        try:
            _convert_hf(spec, target, name=spec.split("/")[-1])
        except ModelLoadError as exc:
            raise ModelLoadError(
                f"{spec}: not a local directory, and the Hugging Face hub could not provide it "
                f"(offline machines need a local checkpoint directory). Details: {exc}"
            ) from None
    return target


def load_model(spec: str | None = None, *, generation: GenerationSettings | None = None,
               decoder: str | None = None) -> LoadedModel:
    """The model for `spec`; `decoder` ("song" or "free") overrides the one its generation
    settings name (a named model such as "verse" brings its own)."""
    decoder = decoder or _NAMED_DECODERS.get(spec or "")
    if decoder is not None and decoder not in DECODERS:
        raise ModelLoadError(f"unknown decoder {decoder!r} (choose from {', '.join(DECODERS)})")
    if generation is None and spec in (None, DEFAULT, EMBEDDED):
        # The embedded model's directory is a cache of the converted wheel: its sampling and
        # decoding settings are this code's defaults, not the ones frozen into the cache when
        # it was converted, so a machine converted earlier writes the same songs.
        generation = GenerationSettings()
    loaded = read_model_dir(resolve_model_dir(spec), generation=generation)
    if decoder is not None and decoder != loaded.manifest.generation.decoder:
        loaded.manifest = replace(loaded.manifest, generation=replace(loaded.manifest.generation, decoder=decoder))
    return loaded


def load_generator(model: str | None = None, threads: int | None = None,
                   max_batch_size: int = DEFAULT_MAX_BATCH, decoder: str | None = None) -> ModelLyricsGenerator:
    """The real LyricsGenerator for a model spec (see the module docstring)."""
    set_threads(threads)
    generator = ModelLyricsGenerator(load_model(model, decoder=decoder), max_batch_size=max_batch_size)
    if getattr(generator.loaded.model, "native", None) is not None:
        # The native step does the heavy work on its own pool of `threads` threads. The
        # decoder's tensor work between steps is small: torch runs it on one thread, since
        # libgomp's workers spinning beside the pool cost more than they save (a song took
        # 1.25x as long with both at two threads on a 2-core machine).
        kernels.set_engine_threads(threads or _MACHINE_THREADS)
        torch.set_num_threads(1)
    else:
        torch.set_num_threads(threads or _MACHINE_THREADS)  # the PyTorch path does it all
    return generator
