"""The engine's C++ (`native_source.py`), compiled on first use and loaded safely.

    module = kernels.native()   # the extension module, or None (one line on stderr says why)
    kernels.set_engine_threads(2)   # the threads of the engine's own pool

The native step splits its work over a pool of its own threads, not OpenMP's: libgomp
keeps a team per calling thread, and a web process calls the engine from several (a
visitor's flight, the pool filler); with more libgomp threads than CPUs its workers sleep
between parallel regions, and a song written off the main thread took 1.6x as long.

The build (about a minute, once per source, flags, CPU kind and torch version) runs with
`torch.utils.cpp_extension.load_inline` in a private temporary directory; the library is
then moved into the user cache (`kernels/`) in one atomic rename: processes building at
the same time each build and one wins, and a build killed midway leaves no lock behind.

A shared library is code: before loading one from the cache, the `kernels/` directory and
the file must belong to this user and be writable by no one else (the directory is created
0700). If they are not, the library is built again in a fresh private directory and loaded
from there. Flags: `-ffp-contract=off` and no `-ffast-math`, so every float operation is
the single IEEE operation that the PyTorch reference performs (fixed_order.py).

Environment:
    BILLION_SONGS_NATIVE=0          never build or load it (the PyTorch path, same bits)
    BILLION_SONGS_NATIVE_ISA=avx2   build the AVX2 variant on an AVX-512 VNNI CPU (tests)
    BILLION_SONGS_CXX=/path/to/c++  the compiler (torch's CXX); an impossible path forces a build failure
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import platform
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import torch

from billion_songs.core.engine.native_source import SOURCE
from billion_songs.core.paths import cache_dir
from billion_songs.core.progress import say

_COMMON_FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fopenmp"]  # -fopenmp: for ATen/Parallel.h (the step splits work over its own pool)
_ISA_FLAGS = {
    "avx512vnni": ["-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni"],
    "avx2": ["-mavx2", "-mfma", "-mf16c"],  # -mf16c: the float16 key/value cache's conversions
}


def _cpu_flags() -> set[str]:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_isa() -> str | None:
    """The kernel variant for this CPU ("avx512vnni" or "avx2"), or None (no native engine)."""
    flags = _cpu_flags()
    wanted = os.environ.get("BILLION_SONGS_NATIVE_ISA")
    if {"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "f16c"} <= flags and wanted in (None, "", "avx512vnni"):
        return "avx512vnni"
    if {"avx2", "fma", "f16c"} <= flags and wanted in (None, "", "avx2", "avx512vnni"):
        return "avx2"
    return None


def safe_to_load(path: Path) -> bool:
    """Owned by this user and not writable by group or others (a directory or a file)."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _private_dir(path: Path) -> bool:
    """Create `path` 0700 if missing; True when it is safe to load libraries from it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return False
    return safe_to_load(path)


def _load(name: str, library: Path):
    spec = importlib.util.spec_from_file_location(name, library)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Built in this process, the library was first imported from its build directory,
    # which is gone after the move into the cache; Python keeps that first __file__.
    module.__file__ = str(library)
    return module


def _build(name: str, flags: list[str], into: Path) -> Path:
    """Compile into a private temporary directory under `into`; return the library's path there."""
    from torch.utils.cpp_extension import load_inline  # heavy: only when a build is needed

    _ninja_on_path()
    build = Path(tempfile.mkdtemp(dir=into, prefix=".build-"))  # mkdtemp: mode 0700
    try:
        module = load_inline(name=name, cpp_sources=[SOURCE], extra_cflags=flags, extra_ldflags=["-fopenmp"],
                             no_implicit_headers=True, verbose=False, build_directory=str(build))
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return Path(module.__file__)


@functools.cache
def native():
    """The compiled extension, or None: disabled, no AVX2, or the build failed (one stderr line)."""
    if os.environ.get("BILLION_SONGS_NATIVE", "1") == "0":
        return None
    isa = cpu_isa()
    if isa is None:
        say("native engine off: this CPU has no AVX2 (the PyTorch path writes the same songs, slower)")
        return None
    flags = _COMMON_FLAGS + _ISA_FLAGS[isa]
    if os.environ.get("BILLION_SONGS_CXX"):
        os.environ["CXX"] = os.environ["BILLION_SONGS_CXX"]
    compiler = os.environ.get("CXX", "c++")
    digest = hashlib.sha256("\n".join([SOURCE, *flags, torch.__version__, compiler]).encode()).hexdigest()[:16]
    name = f"billion_songs_native_{digest}"
    kernels = cache_dir() / "kernels"
    library = kernels / f"{name}.so"
    try:
        if _private_dir(kernels) and safe_to_load(library):
            return _load(name, library)
        if _private_dir(kernels):
            say(f"compiling the native engine for this CPU ({isa}; once, about a minute)")
            built = _build(name, flags, kernels)
            os.replace(built, library)  # atomic: other processes see all of it or nothing
            shutil.rmtree(built.parent, ignore_errors=True)
            return _load(name, library)
        # The cache is not ours alone (or not writable): build where only we can write.
        say(f"{kernels} is not private to this user: building the native engine in a fresh private directory")
        private = Path(tempfile.mkdtemp(prefix="billion-songs-kernels-"))
        return _load(name, _build(name, flags, private))
    except Exception as exc:  # noqa: BLE001 - any build or load failure means the PyTorch path
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        line = next((x for x in lines if "error" in x.lower() and "Error building" not in x), lines[0])
        say(f"native engine unavailable, using the PyTorch path (same songs, slower): {line.strip()[:160]}")
        return None


def set_engine_threads(threads: int) -> None:
    """The native engine's thread count: the threads of its own pool, which every calling
    thread shares (torch's intra-op threads are separate). No-op without the native engine."""
    if threads < 1:
        raise ValueError("threads must be at least 1")
    module = native()
    if module is not None:
        module.set_threads(threads)


def _ninja_on_path() -> None:
    """torch builds with ninja found on PATH; the `ninja` wheel puts it next to this
    Python, which is not on PATH when the venv is used without activating it."""
    here = os.path.dirname(sys.executable)
    if shutil.which("ninja") is None and shutil.which("ninja", path=here):
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")
