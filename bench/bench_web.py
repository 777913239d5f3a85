"""Benchmark of the web site as `billion-songs serve` runs it, on loopback, bounded in time.

    python bench/bench_web.py                      # real model if it loads, else the fake
    python bench/bench_web.py --generator fake --duration 5 --connections 50

1. Seeds a fresh data dir with --pool songs marked as pooled (what a filled pool leaves
   in the database), then starts `billion-songs serve` on it: the pool is restored at
   start, so the filler is idle while the load runs.
2. wrk, --connections connections for --duration seconds each: a bare Django view
   (/healthz, same middleware, same server), a stored song page, Make Random.
3. Time to the first line and to the whole song for never-seen ids (streamed page).
4. Memory: the pool's own footprint (tracemalloc) and the server's RSS with a full pool.

Prints a Markdown table. Needs wrk (apt-get install wrk) for step 2.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import FAKE_GENERATOR, Served, site_environment  # noqa: E402  (after the path)
from tests.support.tables import print_measures  # noqa: E402

REAL_FACTORY = "billion_songs.core.loader.load_generator"


def seed(data_dir: Path, count: int) -> list[int]:
    """Migrate a fresh database and store `count` pooled songs; returns their ids."""
    os.environ["BILLION_SONGS_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "billion_songs.web.config.settings.production"
    import django

    django.setup()
    from django.core.management import call_command

    from billion_songs.core.fake import FakeLyricsGenerator
    from billion_songs.web.songs.data import services

    call_command("migrate", interactive=False, verbosity=0)
    rng = random.Random(2024)
    ids = [rng.getrandbits(64) for _ in range(count)]
    generator = FakeLyricsGenerator(model_version="bench-seed")
    for start in range(0, count, 2000):
        services.songs_store_for_pool(songs=generator.generate(ids[start : start + 2000]))
    return ids


def wrk(url: str, *, connections: int, duration: int) -> dict:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s", url],
        capture_output=True, text=True, timeout=duration + 30, check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _ms(latency["50"]),
        "p99": _ms(latency["99"]),
        "errors": (int(errors.group(1)) if errors else 0),
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def time_a_new_song(base_url: str, song_id: int) -> tuple[float, float]:
    """(seconds to the first complete line of lyrics text, seconds to the end of the page)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=300)
    start = time.monotonic()
    connection.request("GET", f"/song/{song_id}")
    response = connection.getresponse()
    body, first_line = b"", None
    marker = b'id="draft-1" aria-live="polite">'
    while chunk := response.read1(65536):
        body += chunk
        if first_line is None and marker in body and b"\n" in body.split(marker, 1)[1]:
            first_line = time.monotonic() - start
    total = time.monotonic() - start
    connection.close()
    return (first_line if first_line is not None else total), total


def pool_footprint_mb(count: int) -> float:
    from billion_songs.web.songs.generation.memory_pool import MemoryPool

    rng = random.Random(1)
    ids = [rng.getrandbits(64) for _ in range(count)]
    tracemalloc.start()
    pool = MemoryPool(target=count, serves=10)
    pool.add(ids)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(pool) == count
    return size / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", choices=["real", "fake"], default=None,
                        help="the model behind the server [default: real if billion_songs.core.loader imports]")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--pool", type=int, default=50_000, help="pooled songs to seed and restore")
    parser.add_argument("--new-songs", type=int, default=3, help="never-seen ids to time")
    parser.add_argument("--threads", type=int, default=None, help="generation threads (serve --threads)")
    parser.add_argument("--fake-line-delay", type=float, default=0.1, help="seconds per line for the fake model")
    args = parser.parse_args()

    generator = args.generator
    if generator is None:
        try:
            import billion_songs.core.loader  # noqa: F401

            generator = "real"
        except ImportError:
            generator = "fake"
    os.environ["BILLION_SONGS_FAKE_LINE_DELAY"] = str(args.fake_line_delay)
    factory = REAL_FACTORY if generator == "real" else FAKE_GENERATOR

    data_dir = Path(tempfile.mkdtemp(prefix="billion-songs-bench-"))
    rows: list[tuple[str, str]] = []
    try:
        started = time.monotonic()
        ids = seed(data_dir, args.pool)
        print(f"seeded {len(ids)} pooled songs in {time.monotonic() - started:.1f}s", file=sys.stderr)

        env = site_environment(BILLION_SONGS_GENERATOR_FACTORY=factory, BILLION_SONGS_POOL_TARGET=str(args.pool))
        threads = ["--threads", str(args.threads)] if args.threads else []
        server = Served.start(env, data_dir / "serve.log", "--data-dir", str(data_dir), *threads, cwd=ROOT)
        try:
            started = time.monotonic()
            server.process.wait_for_output("Uvicorn running on", timeout=900)
            restored = server.process.wait_for_output("Random pool: restored", timeout=60)
            model = next((line.split(": ", 1)[1].strip() for line in server.process.output().splitlines()
                          if "Model ready:" in line), "?")
            rows.append(("model", f"{generator} ({model}); server ready in {time.monotonic() - started:.1f}s"))
            rows.append(("pool restored at start", re.search(r"restored (\d+)", restored).group(1) + " songs"))

            if shutil.which("wrk"):
                song_url = f"{server.url}/song/{ids[0]}"
                http.client.HTTPConnection("127.0.0.1", server.port).request("GET", f"/song/{ids[0]}")  # warm
                time.sleep(0.2)
                results = {}
                for name, url in [("bare Django view (/healthz)", f"{server.url}/healthz"),
                                  ("stored song page", song_url),
                                  ("Make Random (/random, 302)", f"{server.url}/random")]:
                    results[name] = result = wrk(url, connections=args.connections, duration=args.duration)
                    errors = f", {result['errors']} errors" if result["errors"] else ""
                    socket_errors = f", socket errors: {result['socket_errors']}" if result["socket_errors"] else ""
                    summary = f"{result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms"
                    rows.append((f"{name}, {args.connections} connections", summary + errors + socket_errors))
                bare = results["bare Django view (/healthz)"]["rps"]
                rows.append(("song page / bare view", f"{results['stored song page']['rps'] / bare:.2f}x"))
            else:
                rows.append(("requests/s", "skipped: wrk is not installed (apt-get install wrk)"))

            firsts, totals = [], []
            for song_id in random.Random(7).sample(range(10**6), args.new_songs):
                first, total = time_a_new_song(server.url, song_id)
                firsts.append(first)
                totals.append(total)
            rows.append((f"never-seen id, first line (median of {args.new_songs})", f"{statistics.median(firsts):.2f} s"))
            rows.append((f"never-seen id, whole song (median of {args.new_songs})", f"{statistics.median(totals):.2f} s"))
            rss_mb = psutil.Process(server.process.popen.pid).memory_info().rss / 2**20
            rows.append((f"server RSS with {args.pool} pooled songs", f"{rss_mb:.0f} MB"))
        finally:
            server.stop()
        rows.append((f"pool of {args.pool} songs itself (tracemalloc)", f"{pool_footprint_mb(args.pool):.2f} MB"))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    cpus = os.cpu_count()
    print(f"\nBillion Songs web bench ({cpus} CPUs shared by server, wrk and the rest; loopback)\n")
    print_measures(rows)


if __name__ == "__main__":
    main()
