"""The engine's model directory: what `export`, the embedded model and the loader share.

    MODEL_DIR/
      billion_songs_model.json   manifest: architecture, config, prompt style, special
                                 tokens, generation settings, source, sha256 of each file
      weights.safetensors        int8 weights (+ scales) and float norms
      tokenizer.json             a Hugging Face `tokenizers` tokenizer

A directory is written under a temporary name and renamed into place, so a crash never
leaves a half-written model. `model_version` is derived from the files' hashes, the
generation settings and the engine's numerics/prompt version: anything that could change a
song changes the version.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from billion_songs.core.atomic import atomic_directory
from billion_songs.core.generation_settings import GenerationSettings
from billion_songs.core.engine.gpt2 import GPT2Config, GPT2Model
from billion_songs.core.engine.llama import LlamaConfig, LlamaModel

MANIFEST = "billion_songs_model.json"
WEIGHTS = "weights.safetensors"
TOKENIZER = "tokenizer.json"
FORMAT = "billion-songs-model"
FORMAT_VERSION = 1
# Bump when the forward pass, sampling, prompts or cleaning change in a way that can change
# a song: it is part of every model_version, so stored songs never get a silent rewrite.
ENGINE_VERSION = "4"  # 2: the songwriting decoder (RowCache); 3: the fixed-order float algorithm (native step);
# 4: float16 key/value cache
# The code that shapes a song, named as modules (not paths): its source is hashed into
# model_version as a safety net for a forgotten ENGINE_VERSION bump (a comment edit also
# changes the version: harmless, as stored songs keep the version they were written with).
# The modules are found by name without importing them (most sit above the engine), and a
# missing one fails here, when this module is imported, not later while writing a song.
_SONG_MODULES = tuple(f"billion_songs.core.{name}" for name in (
    "rng", "sampling", "decode", "prompts", "postprocess", "guards", "generator", "generation_settings",
    "lyrics_format",
    "engine.attention", "engine.int8", "engine.llama", "engine.gpt2", "engine.fixed_order", "engine.native",
    "song", "songwriting.plan", "songwriting.decoder", "songwriting.vocabulary", "songwriting.checks",
    "songwriting.rhyme"))


def _module_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise ImportError(f"{name}: a module hashed into model_version is missing (renamed? update _SONG_MODULES)")
    return Path(spec.origin)


_SONG_FILES = {name: _module_file(name) for name in _SONG_MODULES}


@functools.cache
def song_code_digest() -> str:
    digest = hashlib.sha256()
    for name, file in _SONG_FILES.items():
        digest.update(name.encode() + file.read_bytes())
    return digest.hexdigest()[:16]

ARCHITECTURES = {"llama": (LlamaConfig, LlamaModel), "gpt2": (GPT2Config, GPT2Model)}


class ModelLoadError(Exception):
    """A model that is missing, partial, corrupt or unsupported. The message names the path."""


@dataclass(frozen=True)
class ModelManifest:
    name: str  # human name, the prefix of model_version
    architecture: str  # a key of ARCHITECTURES
    config: dict  # the architecture's config dataclass as a dict
    prompt_style: str  # one of billion_songs.core.prompts.PROMPT_STYLES
    end_token_ids: tuple[int, ...]  # any of these ends a song
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    source: dict = field(default_factory=dict)  # where the weights came from (for people)
    files: dict = field(default_factory=dict)  # file name -> sha256

    @property
    def model_version(self) -> str:
        basis = json.dumps(
            {
                "engine": ENGINE_VERSION,
                "code": song_code_digest(),
                "architecture": self.architecture,
                "config": self.config,
                "prompt_style": self.prompt_style,
                "end_token_ids": list(self.end_token_ids),
                "generation": asdict(self.generation),
                "files": self.files,
            },
            sort_keys=True,
        )
        return f"{self.name}-{hashlib.sha256(basis.encode()).hexdigest()[:12]}"

    def to_json(self) -> str:
        data = asdict(self)
        data = {"format": FORMAT, "format_version": FORMAT_VERSION, **data}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, path: Path) -> "ModelManifest":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{path / MANIFEST}: not valid JSON ({exc})") from None
        if data.get("format") != FORMAT:
            raise ModelLoadError(f"{path / MANIFEST}: not a Billion Songs model manifest")
        if data.get("format_version") != FORMAT_VERSION:
            raise ModelLoadError(
                f"{path / MANIFEST}: format version {data.get('format_version')} is not supported "
                f"(this engine reads version {FORMAT_VERSION})"
            )
        try:
            return cls(
                name=data["name"],
                architecture=data["architecture"],
                config=data["config"],
                prompt_style=data["prompt_style"],
                end_token_ids=tuple(data["end_token_ids"]),
                generation=GenerationSettings(**data.get("generation", {})),
                source=data.get("source", {}),
                files=data["files"],
            )
        except (KeyError, TypeError) as exc:
            raise ModelLoadError(f"{path / MANIFEST}: missing or malformed field {exc}") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_model_dir(path: Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def write_model_dir(
    out_dir: Path,
    *,
    name: str,
    architecture: str,
    config: dict,
    tensors: dict[str, torch.Tensor],
    tokenizer_json: str,
    prompt_style: str,
    end_token_ids: tuple[int, ...],
    generation: GenerationSettings | None = None,
    source: dict | None = None,
) -> ModelManifest:
    """Write a complete model directory atomically (hidden sibling, then rename)."""
    with atomic_directory(Path(out_dir)) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS))
        (tmp / TOKENIZER).write_text(tokenizer_json, encoding="utf-8")
        manifest = ModelManifest(
            name=name,
            architecture=architecture,
            config=config,
            prompt_style=prompt_style,
            end_token_ids=tuple(end_token_ids),
            generation=generation or GenerationSettings(),
            source=source or {},
            files={f: sha256_file(tmp / f) for f in (WEIGHTS, TOKENIZER)},
        )
        (tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


@dataclass
class LoadedModel:
    path: Path
    manifest: ModelManifest
    model: LlamaModel | GPT2Model
    tokenizer: "tokenizers.Tokenizer"  # noqa: F821

    @property
    def model_version(self) -> str:
        return self.manifest.model_version


def read_model_dir(path: Path, *, generation: GenerationSettings | None = None) -> LoadedModel:
    """Load and verify a model directory; every problem is a ModelLoadError naming the path."""
    from tokenizers import Tokenizer

    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: no such model directory")
    if not path.is_dir():
        raise ModelLoadError(f"{path}: not a directory")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ModelLoadError(f"{path}: not a Billion Songs model (no {MANIFEST})")
    manifest = ModelManifest.from_json(manifest_path.read_text(encoding="utf-8"), path)
    if generation is not None:
        manifest = replace(manifest, generation=generation)
    if manifest.architecture not in ARCHITECTURES:
        raise ModelLoadError(f"{path}: architecture {manifest.architecture!r} is not supported "
                             f"(supported: {', '.join(ARCHITECTURES)})")
    for name, expected in manifest.files.items():
        file = path / name
        if not file.is_file():
            raise ModelLoadError(f"{path}: {name} is missing (partial model directory)")
        if sha256_file(file) != expected:
            raise ModelLoadError(f"{file}: checksum mismatch, the file is corrupt or was changed after export")
    config_cls, model_cls = ARCHITECTURES[manifest.architecture]
    try:
        config = config_cls(**manifest.config)
        tensors = load_file(str(path / WEIGHTS))
        model = model_cls(config, tensors)
        tokenizer = Tokenizer.from_file(str(path / TOKENIZER))
    except (KeyError, TypeError, ValueError, RuntimeError, OSError) as exc:
        raise ModelLoadError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from None
    return LoadedModel(path=path, manifest=manifest, model=model, tokenizer=tokenizer)
