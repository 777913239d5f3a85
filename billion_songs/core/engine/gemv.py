"""Exact int8 matrix-vector products for decoding one token at a time, with AVX2.

    y[n] = sum_k x_q[k] * W[k, n]      (int32, exact)

with 7-bit activations given unsigned, `x_u8 = x_q + 64` in [1, 127] (as `int8.py` stores
them), and int8 weights. oneDNN is slow at M=1 on AVX2-only CPUs; this kernel just streams
the weights once through `vpmaddubsw`, so it runs near memory bandwidth.

The C++ is compiled on first use with `torch.utils.cpp_extension.load_inline` (about 30 s)
in a private temporary directory, and the library is then moved into the user cache
(`kernels/`, under a name that hashes the source, the flags and the torch version) in one
atomic rename: processes building at the same time each build, one wins, and a build
killed midway leaves no lock behind for the next start to wait on forever (torch's own
build directory would). `available()` never raises: without a compiler, an AVX2 CPU or a
passing self-test it is False and callers keep their other path.

    packed = pack(weight_t)          # int8 [K, N], once at load time
    acc = gemv(x_u8, packed)         # uint8 [K] (or [M, K]) -> int32 [N] (or [M, N])

`python -m billion_songs.core.engine.gemv` benchmarks the SmolLM2-135M shapes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import platform
import time
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

_ZERO = 64  # activation zero point: x_u8 = x_q + 64
_ROWS = 4  # output rows per kernel iteration (N is padded to a multiple)
_LANES = 32  # bytes per AVX2 register (K is padded to a multiple)

_SOURCE = r"""
// Exact int8 GEMV for AVX2 CPUs without VNNI:  y[m, n] = sum_k (x[m, k] - 64) * W[n, k].
//
// Why it is exact. _mm256_maddubs_epi16 multiplies unsigned bytes by signed bytes and adds
// each adjacent pair of products into int16 *with saturation*. Activations are 7 bits
// (x_q in [-63, 63], stored as x = x_q + 64 in [0, 127]) and weights int8, so a pair is at
// most 2 * 127 * 128 = 32512 < 32767 in magnitude and never saturates (8-bit activations
// could reach 2 * 255 * 128 and would). _mm256_madd_epi16 by ones then widens pairs of
// int16 into int32 exactly, and int32 sums are associative: the result depends neither on
// the order of the loop nor on threads. The zero point is removed at the end:
//     sum_k (x[k] - 64) W[n, k] = sum_k x[k] W[n, k] - 64 * row_sums[n].
//
// Layout (made by pack() in gemv.py): output rows in blocks of 4, each block one contiguous
// stream read front to back: for every 32 bytes of K, the 4 rows' 32 weights one after the
// other, i.e. int8 [N_pad / 4, K_pad / 32, 4, 32] stored as [N_pad / 4, 4 * K_pad]. K_pad is a
// multiple of 32 (one AVX2 register), N_pad of 4; the padding is zero. row_sums: int32 [N_pad].

// Only the headers needed (not <torch/extension.h>): it keeps the first compile short.
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/csrc/utils/pybind.h>
#include <immintrin.h>
#include <algorithm>
#include <vector>

namespace {

constexpr int64_t kRows = 4;   // output rows per iteration: one activation load feeds 4 rows
constexpr int64_t kLanes = 32;

// Sums of the 8 int32 lanes of a, b, c and d.
inline __m128i hsum4(__m256i a, __m256i b, __m256i c, __m256i d) {
  __m256i ab = _mm256_hadd_epi32(a, b);      // a01 a23 b01 b23 | a45 a67 b45 b67
  __m256i cd = _mm256_hadd_epi32(c, d);
  __m256i abcd = _mm256_hadd_epi32(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
  return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

inline __m256i dot32(__m256i x, const int8_t* w) {  // 8 int32 partial sums of 32 products
  const __m256i pairs = _mm256_maddubs_epi16(x, _mm256_loadu_si256((const __m256i*)w));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// x . (the 4 rows of one block) for one activation row x of k_pad bytes.
inline __m128i dot4(const uint8_t* x, const int8_t* w, int64_t k_pad) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  for (int64_t k = 0; k < k_pad; k += kLanes, w += kRows * kLanes) {
    const __m256i xv = _mm256_loadu_si256((const __m256i*)(x + k));
    acc0 = _mm256_add_epi32(acc0, dot32(xv, w));
    acc1 = _mm256_add_epi32(acc1, dot32(xv, w + kLanes));
    acc2 = _mm256_add_epi32(acc2, dot32(xv, w + 2 * kLanes));
    acc3 = _mm256_add_epi32(acc3, dot32(xv, w + 3 * kLanes));
  }
  return hsum4(acc0, acc1, acc2, acc3);
}

}  // namespace

// x: uint8 [K] or [M, K] with values in [0, 127]; w: int8 [N_pad / 4, 4 * K_pad];
// row_sums: int32 [N_pad]. Returns int32 [n] or [M, n].
at::Tensor gemv(const at::Tensor& x_in, const at::Tensor& w, const at::Tensor& row_sums, int64_t n) {
  TORCH_CHECK(x_in.scalar_type() == at::kByte && (x_in.dim() == 1 || x_in.dim() == 2), "x: uint8 [M, K]");
  TORCH_CHECK(w.scalar_type() == at::kChar && w.dim() == 2 && w.is_contiguous(), "w: packed int8");
  TORCH_CHECK(row_sums.scalar_type() == at::kInt && row_sums.is_contiguous(), "row_sums: int32");
  TORCH_CHECK(x_in.is_cpu() && w.is_cpu() && row_sums.is_cpu(), "CPU tensors only");
  const at::Tensor x = x_in.contiguous();
  const int64_t m = x.dim() == 1 ? 1 : x.size(0), k = x.size(-1);
  const int64_t n_pad = w.size(0) * kRows, k_pad = w.size(1) / kRows;
  TORCH_CHECK(w.size(1) % (kRows * kLanes) == 0 && k <= k_pad && k_pad - k < kLanes, "x: wrong K for w");
  TORCH_CHECK(n <= n_pad && n_pad - n < kRows && row_sums.numel() == n_pad, "w: wrong N");
  TORCH_CHECK(k_pad <= (1 << 16), "K too large: |sum| <= 127 * 128 * K must fit in int32");

  // Activations, zero-padded to K_pad; any byte >= 128 could saturate maddubs.
  std::vector<uint8_t> xs(m * k_pad, 0);
  uint8_t high = 0;
  const uint8_t* xp = x.data_ptr<uint8_t>();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      high |= xp[i * k + j];
      xs[i * k_pad + j] = xp[i * k + j];
    }
  }
  TORCH_CHECK(high < 128, "activations must be in [0, 127]");

  at::Tensor y = x.dim() == 1 ? at::empty({n}, x.options().dtype(at::kInt))
                              : at::empty({m, n}, x.options().dtype(at::kInt));
  int32_t* yp = y.data_ptr<int32_t>();
  const int8_t* wp = w.data_ptr<int8_t>();
  const int32_t* sums = row_sums.data_ptr<int32_t>();
  // Threads split the output rows, >= 32 KiB of weights per task. Each block of 4 rows is
  // read once from memory and stays in L1 for the other activation rows (M > 1).
  const int64_t grain = std::max<int64_t>(1, 32768 / (kRows * k_pad));
  at::parallel_for(0, n_pad / kRows, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t row = b * kRows;
      const __m128i zero_point = _mm_slli_epi32(_mm_loadu_si128((const __m128i*)(sums + row)), 6);
      for (int64_t i = 0; i < m; ++i) {
        alignas(16) int32_t out[kRows];
        _mm_store_si128((__m128i*)out,
                        _mm_sub_epi32(dot4(xs.data() + i * k_pad, wp + b * kRows * k_pad, k_pad), zero_point));
        for (int64_t j = 0; j < kRows && row + j < n; ++j) yp[i * n + row + j] = out[j];
      }
    }
  });
  return y;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("gemv", &gemv, "exact int8 GEMV", pybind11::call_guard<pybind11::gil_scoped_release>());
}
"""

_CFLAGS = ["-O3", "-mavx2", "-mfma", "-fopenmp"]  # -fopenmp: at::parallel_for uses torch's OpenMP threads


@dataclass(frozen=True)
class PackedWeight:
    """A weight matrix laid out for `gemv` (see the C++ comment)."""

    w: torch.Tensor  # int8 [N_pad / 4, 4 * K_pad]: blocks of 4 output channels, interleaved by 32
    row_sums: torch.Tensor  # int32 [N_pad]: sum_k W[k, n], for the zero point
    in_features: int  # K
    out_features: int  # N


def pack(weight_t: torch.Tensor) -> PackedWeight:
    """weight_t: int8 [K, N] (as `Int8Linear.weight_t`) -> the layout `gemv` reads."""
    if weight_t.dtype != torch.int8 or weight_t.dim() != 2:
        raise ValueError(f"weight_t must be int8 [K, N], got {weight_t.dtype} {tuple(weight_t.shape)}")
    k, n = weight_t.shape
    k_pad, n_pad = -(-k // _LANES) * _LANES, -(-n // _ROWS) * _ROWS
    w = torch.zeros(n_pad, k_pad, dtype=torch.int8)
    w[:n, :k] = weight_t.t()
    row_sums = w.sum(dim=1, dtype=torch.int32)
    blocks = w.view(n_pad // _ROWS, _ROWS, k_pad // _LANES, _LANES).transpose(1, 2)  # [N/4, K/32, 4, 32]
    w = blocks.reshape(n_pad // _ROWS, _ROWS * k_pad)
    return PackedWeight(w=w, row_sums=row_sums, in_features=k, out_features=n)


def gemv(x_u8: torch.Tensor, packed: PackedWeight) -> torch.Tensor:
    """x_u8: uint8 [K] or [M, K] (x_q + 64, in [1, 127]) -> int32 [N] or [M, N], exactly
    (x_u8 - 64) @ weight_t. Requires `available()`; M > 1 is supported but meant to be small."""
    return _module().gemv(x_u8, packed.w, packed.row_sums, packed.out_features)


def _cpu_has_avx2() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return {"avx2", "fma"} <= flags
    except OSError:
        pass
    return False


@functools.cache
def _module():
    import importlib.util
    import os
    import tempfile

    from torch.utils.cpp_extension import load_inline

    from billion_songs.core.paths import cache_dir

    digest = hashlib.sha256((_SOURCE + " ".join(_CFLAGS) + torch.__version__).encode()).hexdigest()[:16]
    name = f"billion_songs_gemv_{digest}"
    kernels = cache_dir() / "kernels"
    library = kernels / f"{name}.so"
    if not library.is_file():
        from billion_songs.core.embedded import say

        say("compiling the int8 matrix-vector kernel for this CPU (once, about 30 s)")
        kernels.mkdir(parents=True, exist_ok=True)
        _ninja_on_path()
        with tempfile.TemporaryDirectory(dir=kernels, prefix=".build-") as build:
            module = load_inline(name=name, cpp_sources=[_SOURCE], extra_cflags=_CFLAGS, extra_ldflags=["-fopenmp"],
                                 no_implicit_headers=True, verbose=False, build_directory=build)
            os.replace(module.__file__, library)  # atomic: other processes see all of it or nothing
        return module
    spec = importlib.util.spec_from_file_location(name, library)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ninja_on_path() -> None:
    """torch builds with ninja found on PATH; the `ninja` wheel puts it next to this
    Python, which is not on PATH when the venv is used without activating it."""
    import os
    import shutil
    import sys

    here = os.path.dirname(sys.executable)
    if shutil.which("ninja") is None and shutil.which("ninja", path=here):
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")


def _self_test() -> bool:
    """Worst cases of both signs, padding in K and N, M > 1, against int64 sums."""
    generator = torch.Generator().manual_seed(0)
    weight_t = torch.randint(-128, 128, (100, 7), dtype=torch.int8, generator=generator)
    weight_t[:, 0], weight_t[:, 1] = 127, -128
    x_q = torch.randint(-63, 64, (3, 100), dtype=torch.int8, generator=generator)
    x_q[0], x_q[1] = 63, -63
    x_u8 = (x_q.to(torch.int16) + _ZERO).to(torch.uint8)
    packed = pack(weight_t)
    exact = (x_q.long() @ weight_t.long()).to(torch.int32)
    rows_ok = all(torch.equal(gemv(x_u8[i], packed), exact[i]) for i in range(3))
    return rows_ok and torch.equal(gemv(x_u8, packed), exact)


@functools.cache
def available() -> bool:
    """True when the kernel compiled and passes its self-test on this CPU. Never raises."""
    if not _cpu_has_avx2():
        return False
    try:
        _module()
        if _self_test():
            return True
        log.warning("int8 gemv: self-test failed, not used")
    except Exception as exc:  # noqa: BLE001 - any build or import failure means "not available"
        lines = str(exc).strip().splitlines() or [""]
        line = next((x for x in lines if "error" in x.lower() and "Error building" not in x), lines[0])
        log.warning("int8 gemv unavailable (%s: %s)", type(exc).__name__, line.strip()[:200])
    return False


# ---------------------------------------------------------------------------- benchmark


def _smollm2_shapes() -> list[tuple[int, int]]:
    """(K, N) of SmolLM2-135M's matrices, one decoding step: 30 layers x (qkv, o, gate+up,
    down) and the tied lm_head."""
    layer = [(576, 960), (576, 576), (576, 3072), (1536, 576)]
    return layer * 30 + [(576, 49152)]


def _bench(name: str, calls, repeats: int) -> None:
    for call in calls:  # warm up
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for call in calls:
            call()
        times.append(time.perf_counter() - start)
    best, median = min(times) * 1e3, sorted(times)[len(times) // 2] * 1e3
    print(f"{name:30s} {best:8.2f} ms/step best, {median:8.2f} median of {repeats}", flush=True)


def _main() -> None:
    from billion_songs.core.engine.int8 import _ACT_ZERO, _onednn_mm

    start = time.perf_counter()
    ok = available()
    print(f"available: {ok} ({time.perf_counter() - start:.1f} s incl. compile or cache load)")
    print(f"threads: {torch.get_num_threads()}")
    generator = torch.Generator().manual_seed(0)
    shapes = _smollm2_shapes()
    weights = [torch.randint(-127, 128, (k, n), dtype=torch.int8, generator=generator) for k, n in shapes]
    inputs = {k: torch.randint(-63, 64, (1, k), dtype=torch.int8, generator=generator) for k, _ in shapes}
    inputs_u8 = {k: (x.to(torch.int16) + _ACT_ZERO).to(torch.uint8) for k, x in inputs.items()}
    total = sum(k * n for k, n in shapes)
    print(f"{len(shapes)} distinct matrices, {total / 1e6:.1f} MB of int8 weights per step")
    repeats = 10

    if ok:
        packs = [pack(w) for w in weights]
        for w, p in zip(weights[:5] + weights[-1:], packs[:5] + packs[-1:]):
            k = w.shape[0]
            assert torch.equal(gemv(inputs_u8[k][0], p), torch._int_mm(inputs[k], w)[0])
        _bench("gemv (this module)", [functools.partial(gemv, inputs_u8[p.in_features][0], p) for p in packs], repeats)
        del packs

    prepacked = [torch.ops.onednn.qlinear_prepack(w.t().contiguous(), None) for w in weights]
    scales = [torch.ones(n) for _, n in shapes]
    _bench(
        "oneDNN qlinear_pointwise M=1",
        [functools.partial(_onednn_mm, inputs_u8[k], p, s) for (k, _), p, s in zip(shapes, prepacked, scales)],
        repeats,
    )
    del prepacked
    _bench("torch._int_mm M=1", [functools.partial(torch._int_mm, inputs[w.shape[0]], w) for w in weights], 3)
    if ok:
        seconds = total / 19e9
        print(f"(reading {total / 1e6:.0f} MB at 19 GB/s: {seconds * 1e3:.1f} ms)")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    _main()
