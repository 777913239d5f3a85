"""Micro-benchmark of the exact int8 kernel on SmolLM2-135M's shapes (one decoding step:
30 layers x (qkv, o, gate+up, down) and the lm_head), at 1, 8 and 32 rows, against
oneDNN's prepacked int8 matmul.

    python bench/bench_kernel.py [--repeats 10]

Each row is checked against int64 matrix products first (exactness), then timed: ms per model step
and, for one row, GB/s of weights streamed; for many rows, int8 GMAC/s.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billion_songs.core.engine import gemv, kernels  # noqa: E402
from billion_songs.core.engine.int8 import _ACT_ZERO, _onednn_mm, onednn_int8_available  # noqa: E402


def smollm2_shapes() -> list[tuple[int, int]]:
    layer = [(576, 960), (576, 576), (576, 3072), (1536, 576)]
    return layer * 30 + [(576, 49152)]


def timed(calls, repeats: int) -> float:
    """Best seconds of `repeats` runs of all `calls` (one model step)."""
    for call in calls:
        call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for call in calls:
            call()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    start = time.perf_counter()
    ok = gemv.available()
    module = kernels.native()
    print(f"native kernel: {ok} ({module.isa if module else '-'}; {time.perf_counter() - start:.1f} s incl. build or load), "
          f"threads: {torch.get_num_threads()}")
    generator = torch.Generator().manual_seed(0)
    shapes = smollm2_shapes()
    weights = [torch.randint(-127, 128, (k, n), dtype=torch.int8, generator=generator) for k, n in shapes]
    total = sum(k * n for k, n in shapes)
    print(f"{len(shapes)} matrices, {total / 1e6:.1f} MB of int8 weights per step")
    packs = [gemv.pack(w) for w in weights] if ok else []
    prepacked = ([torch.ops.onednn.qlinear_prepack(w.t().contiguous(), None) for w in weights]
                 if onednn_int8_available() else [])
    print(f"{'rows':>4} {'kernel':24} {'ms/step':>9} {'GB/s':>7} {'GMAC/s':>8}")
    for rows in (1, 8, 32):
        x_q = {k: torch.randint(-63, 64, (rows, k), dtype=torch.int8, generator=generator) for k, _ in shapes}
        x_u8 = {k: (x.to(torch.int16) + _ACT_ZERO).to(torch.uint8) for k, x in x_q.items()}
        runs = []
        if ok:
            for w, p in zip(weights[:4] + weights[-1:], packs[:4] + packs[-1:]):
                exact = (x_q[w.shape[0]].long() @ w.long()).to(torch.int32)
                assert torch.equal(gemv.gemv(x_u8[w.shape[0]], p), exact), "native kernel not exact"
            runs.append(("native", [functools.partial(gemv.gemv, x_u8[p.in_features], p) for p in packs]))
        if prepacked:
            scales = [torch.ones(n) for _, n in shapes]
            runs.append(("oneDNN qlinear", [functools.partial(_onednn_mm, x_u8[k], p, s)
                                            for (k, _), p, s in zip(shapes, prepacked, scales)]))
        for name, calls in runs:
            seconds = timed(calls, args.repeats)
            print(f"{rows:4d} {name:24} {seconds * 1e3:9.2f} {total / seconds / 1e9:7.1f} "
                  f"{rows * total / seconds / 1e9:8.1f}", flush=True)


if __name__ == "__main__":
    main()
