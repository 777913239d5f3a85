"""What a new song's streamed page costs its web process, by stream interval, side by side
in one run (the scaled-out shape).

    python bench/bench_stream.py                      # 20 pages at each interval, 2 rounds
    python bench/bench_stream.py --intervals 0 0.2 0.5 --pages 10

On a fresh PostgreSQL database and a private Redis (both dropped at the end), for each
--intervals value (BILLION_SONGS_STREAM_INTERVAL; 0: every piece as it comes) and round:
`billion-songs serve --workers 1` and one Celery worker with the fake generator (a song of 21-31 lines, one
line every --fake-line-delay seconds), then --pages never-seen ids read one after another,
each to the end of its song, from addresses of their own (no admission cap is reached).
The CPU time of the web process's event-loop thread and of its other threads (the
admission visit, the database reads, the finished page's render and its tune) is divided
by the pages. Rounds alternate the intervals; the table gives each interval's median
round and its ratio to the first interval's.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_flood import scaled_services, visit  # noqa: E402  (after the path)
from bench.bench_web import seed  # noqa: E402
from tests.support.processes import FAKE_GENERATOR, Served, site_environment, start_worker  # noqa: E402
from tests.support.tables import print_measures  # noqa: E402


def thread_cpu(processes: list[psutil.Process]) -> tuple[float, float]:
    """(event-loop threads, other threads): CPU seconds so far of `processes`."""
    loop = other = 0.0
    for process in processes:
        for thread in process.threads():
            seconds = thread.user_time + thread.system_time
            if thread.id == process.pid:
                loop += seconds
            else:
                other += seconds
    return loop, other


def read_page(port: int, song_id: int, client: str) -> int:
    """The status of one new song's page, read to the end of its song (0: no answer)."""
    status, _ = visit(port, song_id, client, leave=False)
    return status


def one_round(interval: float, args, rng: random.Random, data_dir: Path, services: dict, name: str) -> dict:
    with ExitStack() as stack:
        env = site_environment(
            BILLION_SONGS_GENERATOR_FACTORY=FAKE_GENERATOR,
            BILLION_SONGS_FAKE_LINE_DELAY=str(args.fake_line_delay),
            BILLION_SONGS_POOL_TARGET="0",  # only the pages' songs are written
            BILLION_SONGS_STREAM_INTERVAL=str(interval),
            BILLION_SONGS_TRUSTED_PROXIES="127.0.0.1",
            **services,
        )
        server = Served.start(env, data_dir / f"serve-{name}.log", "--data-dir", str(data_dir), "--workers", "1",
                              cwd=ROOT)
        stack.callback(server.stop)
        server.wait_until_healthy(timeout=300)
        worker = start_worker(env, data_dir / f"worker-{name}.log", "--concurrency", "2", name=f"worker-{name}")
        stack.callback(worker.stop)
        serving = psutil.Process(server.process.popen.pid)
        processes = serving.children(recursive=True) or [serving]  # uvicorn's worker processes, if any
        for n in range(3):  # warm: the first pages load what later ones reuse
            assert read_page(server.port, rng.getrandbits(64), f"10.1.0.{n + 1}") == 200
        loop_before, other_before = thread_cpu(processes)
        started = time.monotonic()
        for n in range(args.pages):
            status = read_page(server.port, rng.getrandbits(64), f"10.2.{n // 250}.{n % 250 + 1}")
            assert status == 200, status
        wall = time.monotonic() - started
        loop_after, other_after = thread_cpu(processes)
        return {"loop": (loop_after - loop_before) / args.pages * 1000,
                "other": (other_after - other_before) / args.pages * 1000,
                "wall": wall / args.pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intervals", type=float, nargs="+", default=[0.0, 0.2],
                        help="BILLION_SONGS_STREAM_INTERVAL values to compare (the first is the baseline)")
    parser.add_argument("--pages", type=int, default=20, help="new songs' pages read per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fake-line-delay", type=float, default=0.05, help="seconds per streamed line")
    args = parser.parse_args()

    rng = random.Random(7)
    results: dict[float, list[dict]] = {interval: [] for interval in args.intervals}
    with ExitStack() as stack:
        data_dir = Path(tempfile.mkdtemp(prefix="billion-songs-stream-"))
        stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        services = scaled_services(stack, data_dir)
        os.environ.update(services)  # the seed goes to the same database
        seed(data_dir, 10)
        for round_number in range(args.rounds):
            for interval in args.intervals:
                results[interval].append(one_round(interval, args, rng, data_dir, services,
                                                   f"{round_number}-{interval:g}"))

    def median(interval: float, key: str) -> float:
        return statistics.median(result[key] for result in results[interval])

    baseline = args.intervals[0]
    rows = []
    for interval in args.intervals:
        loop, other = median(interval, "loop"), median(interval, "other")
        rows.append((f"stream interval {interval:g} s",
                     f"event loop {loop:.1f} ms ({loop / median(baseline, 'loop'):.2f}x), other threads "
                     f"{other:.1f} ms ({other / median(baseline, 'other'):.2f}x), {median(interval, 'wall'):.2f} s "
                     "a page"))
    print(f"\nBillion Songs streamed pages, scaled out: web CPU per new song's page ({args.pages} pages a round, "
          f"median of {args.rounds} rounds; fake generator, a line every {args.fake_line_delay:g} s; "
          f"{os.cpu_count()} CPUs)\n")
    print_measures(rows)


if __name__ == "__main__":
    main()
