"""A flood of never-seen ids against `billion-songs serve` (the one-machine shape), on
loopback, while a second client reads stored song pages: what admission control holds.

    python bench/bench_flood.py                  # 1,000 ids from one address, then from 50
    python bench/bench_flood.py --ids 30         # a smoke run
    python bench/bench_flood.py --scaled         # 2 web processes, 2 Celery workers, Redis, PostgreSQL

1. Seeds a fresh data dir with --stored pooled songs and starts `billion-songs serve`
   on it with the fake generator (a song takes about --fake-line-delay x its lines; the
   real model would make the same flood take hours of generation and measure the same
   bounds), a pool target above what is stored so that the pool filler keeps writing,
   the admission caps from the options, and 127.0.0.1 as the trusted proxy. With
   --scaled: on a fresh PostgreSQL database and a private Redis, --web-processes web
   processes and --workers Celery workers (which write the songs and fill the pool).
2. Quiet: one client reads stored song pages for --quiet seconds (latency per page).
   The reader reads a fixed set of --read-set stored songs whose pages were all fetched
   once before (the page cache holds them): quiet and flood then compare the same work,
   a cached page. (Reading at random among all stored songs made most quiet reads first
   reads, rendered from the database, and many flood reads repeats from the cache,
   which put the quiet p50 above the flood's.) The reader runs in a process of its own:
   in this one, each of its answers waited for the GIL behind the flood's 100 client
   threads, milliseconds that are the bench's, not the server's.
3. Flood A: --ids requests for distinct never-seen ids from one address (in
   X-Forwarded-For), --connections at a time, while the reader goes on. Flood B: the
   same from --addresses addresses. An admitted visitor stays to the end of its song, or
   leaves at once with probability --leave (their songs must not be written unless a
   writer had already started them). The flood client asks again the moment it is
   answered, a visitor back before its Retry-After: the site paces those refusals
   (--early-refusals-per-second per web process; 0 answers them as fast as it can).
4. Reports answers by status, each flood's duration and the web process(es)' CPU time
   per request, the refusals Django answered rather than the ASGI front, peak threads
   and RSS of the web process(es) (sampled every 0.1 s), new rows stored, stored-page
   p50/p99 during the flood against quiet, pool songs the filler stored during the
   flood, and how soon it stores again after the flood.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_web import seed  # noqa: E402  (after the path)
from tests.support.processes import FAKE_GENERATOR, Served, site_environment, start_worker  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.tables import print_measures  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def scaled_services(stack: ExitStack, data_dir: Path) -> dict:
    """A private Redis and a fresh PostgreSQL database, removed when `stack` closes; the
    settings that point at them."""
    import psycopg

    (data_dir / "redis").mkdir()
    redis_server = RedisServer(data_dir / "redis")
    redis_server.start()
    stack.callback(redis_server.kill)
    database = f"bs_flood_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    stack.callback(drop)
    return {"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}", "REDIS_URL": redis_server.url}


class Sampler(threading.Thread):
    """Peak threads and RSS of a process and its children, every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_threads = self.peak_rss = 0
        self.stopping = threading.Event()

    def _each(self, read):
        """`read(process)` for the process and each of its children still running."""
        for process in [self.process, *self.process.children(recursive=True)]:
            try:
                yield read(process)
            except psutil.NoSuchProcess:
                pass

    def sample(self) -> tuple[int, int]:
        read = list(self._each(lambda process: (process.num_threads(), process.memory_info().rss)))
        return sum(threads for threads, _ in read), sum(rss for _, rss in read)

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the process and its children have used so far."""
        return sum(self._each(lambda process: sum(process.cpu_times()[:2])))  # user + system

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            threads, rss = self.sample()
            self.peak_threads, self.peak_rss = max(self.peak_threads, threads), max(self.peak_rss, rss)


class Reader:
    """The second client: stored song pages one after another on one keep-alive connection,
    in a process of its own, so that its timings do not include waiting for the GIL
    behind the flood's client threads in this one."""

    def __init__(self, port: int, song_ids: list[int]):
        context = multiprocessing.get_context("fork")
        self.stopping = context.Event()
        self._receiving, sending = context.Pipe(duplex=False)
        self.process = context.Process(target=self._run, args=(port, song_ids, sending), daemon=True)
        self.latencies: list[tuple[float, float, int]] = []  # (when, seconds, status), after join()

    def start(self) -> None:
        self.process.start()

    def join(self, timeout: float) -> None:
        if self._receiving.poll(timeout):
            self.latencies = self._receiving.recv()
        self.process.join(timeout)

    def _run(self, port: int, song_ids: list[int], sending) -> None:
        latencies = []
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rng = random.Random(3)
        while not self.stopping.is_set():
            started = time.monotonic()  # CLOCK_MONOTONIC: the same clock in both processes
            try:
                connection.request("GET", f"/song/{rng.choice(song_ids)}")
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            latencies.append((started, time.monotonic() - started, status))
            time.sleep(0.005)  # a fast reader, not a load generator
        sending.send(latencies)

    def between(self, start: float, end: float) -> list[float]:
        return [seconds for when, seconds, status in self.latencies if start <= when < end and status == 200]


def visit(port: int, song_id: int, client: str, leave: bool) -> tuple[int, bool]:
    """One flood request: (status, whether an admitted visitor left before the song)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request("GET", f"/song/{song_id}", headers={"X-Forwarded-For": client})
        response = connection.getresponse()
        if response.status == 200 and leave:
            return 200, True  # closing now: the server sees the visitor go
        response.read()
        return response.status, False
    except (OSError, http.client.HTTPException):
        return 0, False
    finally:
        connection.close()


def flood(port: int, ids: list[int], clients: list[str], *, connections: int, leave: float, rng) -> dict:
    plan = [(song_id, clients[n % len(clients)], rng.random() < leave) for n, song_id in enumerate(ids)]
    with ThreadPoolExecutor(connections) as pool:
        answers = list(pool.map(lambda item: (item[0], *visit(port, *item)), plan))
    statuses: dict[int, int] = {}
    for _, status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return {"statuses": statuses, "left": [song_id for song_id, status, left in answers if status == 200 and left],
            "stayed": [song_id for song_id, status, left in answers if status == 200 and not left]}


def stored_among(song_ids: list[int]) -> set[int]:
    from billion_songs.web.songs.data.models import Song

    found: set[int] = set()
    for start in range(0, len(song_ids), 500):
        found |= set(Song.objects.filter(pk__in=song_ids[start:start + 500]).values_list("pk", flat=True))
    return found


def pool_rows_since(moment) -> int:
    from billion_songs.web.songs.data.models import Song

    return Song.objects.filter(in_pool=True, created__gt=moment).count()


def django_refusals(log: Path) -> int:
    """429 and 503 answers Django logged (django.request's warnings and errors)."""
    text = log.read_text(errors="replace")
    return text.count("Too Many Requests: ") + text.count("Service Unavailable: ")


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=1000, help="never-seen ids per flood")
    parser.add_argument("--addresses", type=int, default=50, help="client addresses of the second flood")
    parser.add_argument("--connections", type=int, default=100, help="flood requests at once")
    parser.add_argument("--leave", type=float, default=0.5, help="share of admitted visitors who leave at once")
    parser.add_argument("--stored", type=int, default=2000, help="stored (pooled) songs the reader reads")
    parser.add_argument("--read-set", type=int, default=200,
                        help="stored songs the reader reads (their pages are cached before the quiet phase)")
    parser.add_argument("--quiet", type=float, default=15.0,
                        help="seconds of reading before the flood (the quiet p99 of 5 s, about 900 pages, "
                             "moved 1.1-2.4 ms between runs of the same code)")
    parser.add_argument("--per-client", type=int, default=4, help="BILLION_SONGS_NEW_SONGS_PER_CLIENT")
    parser.add_argument("--queue", type=int, default=32, help="BILLION_SONGS_NEW_SONGS_QUEUE")
    parser.add_argument("--at-once", type=int, default=2, help="BILLION_SONGS_GENERATIONS_AT_ONCE")
    parser.add_argument("--early-refusals-per-second", type=float, default=25.0,
                        help="BILLION_SONGS_EARLY_REFUSALS_PER_SECOND (0: not paced)")
    parser.add_argument("--stream-interval", type=float, default=0.2,
                        help="BILLION_SONGS_STREAM_INTERVAL: seconds between a streaming page's looks "
                             "(0: every line as it comes)")
    parser.add_argument("--fake-line-delay", type=float, default=0.05, help="seconds per streamed line")
    parser.add_argument("--fake-song-delay", type=float, default=0.1, help="seconds per pool-batch song")
    parser.add_argument("--scaled", action="store_true", help="the scaled-out shape (Redis, PostgreSQL, workers)")
    parser.add_argument("--web-processes", type=int, default=2, help="with --scaled: serve --workers")
    parser.add_argument("--workers", type=int, default=2, help="with --scaled: Celery workers (concurrency 2)")
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []
    with ExitStack() as stack:
        data_dir = Path(tempfile.mkdtemp(prefix="billion-songs-flood-"))
        stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        services = scaled_services(stack, data_dir) if args.scaled else {}
        os.environ.update(services)  # the seed goes to the same database
        stored_ids = seed(data_dir, args.stored)
        from django.utils import timezone

        env = site_environment(
            BILLION_SONGS_GENERATOR_FACTORY=FAKE_GENERATOR,
            BILLION_SONGS_FAKE_LINE_DELAY=str(args.fake_line_delay),
            BILLION_SONGS_FAKE_SONG_DELAY=str(args.fake_song_delay),
            BILLION_SONGS_POOL_TARGET=str(args.stored + 100_000),  # the filler never catches up
            BILLION_SONGS_POOL_BATCH="2",
            BILLION_SONGS_NEW_SONGS_PER_CLIENT=str(args.per_client),
            BILLION_SONGS_NEW_SONGS_QUEUE=str(args.queue),
            BILLION_SONGS_GENERATIONS_AT_ONCE=str(args.at_once),
            BILLION_SONGS_EARLY_REFUSALS_PER_SECOND=str(args.early_refusals_per_second),
            BILLION_SONGS_STREAM_INTERVAL=str(args.stream_interval),
            BILLION_SONGS_TRUSTED_PROXIES="127.0.0.1",
            **services,
        )
        processes = ["--workers", str(args.web_processes)] if args.scaled else []
        server = Served.start(env, data_dir / "serve.log", "--data-dir", str(data_dir), *processes, cwd=ROOT)
        stack.callback(server.stop)
        server.wait_until_healthy(timeout=300)
        if args.scaled:
            for n in range(args.workers):
                worker = start_worker(env, data_dir / f"worker-{n}.log", "--concurrency", "2",
                                      name=f"worker-{n}")
                stack.callback(worker.stop)
        else:
            server.process.wait_for_output("Random pool: restored", timeout=60)
        sampler = Sampler(server.process.popen.pid)
        quiet_threads, quiet_rss = sampler.sample()
        rows.append(("web process(es) at rest", f"{quiet_threads} threads, RSS {quiet_rss / 2**20:.0f} MB"))
        sampler.start()
        read_set = stored_ids[:args.read_set]
        for song_id in read_set:  # warm up: every page the reader reads is in the page cache
            server.get(f"/song/{song_id}")
        reader = Reader(server.port, read_set)
        reader.start()
        quiet_start = time.monotonic()
        time.sleep(args.quiet)
        quiet_end = time.monotonic()

        rng = random.Random(11)
        new_ids = [rng.getrandbits(64) for _ in range(2 * args.ids)]
        flood_start, flood_start_db = time.monotonic(), timezone.now()
        cpu = [sampler.cpu_seconds()]
        one = flood(server.port, new_ids[:args.ids], ["203.0.113.1"], connections=args.connections,
                    leave=args.leave, rng=rng)
        one_end = time.monotonic()
        cpu.append(sampler.cpu_seconds())
        through_django = [django_refusals(data_dir / "serve.log")]
        many = flood(server.port, new_ids[args.ids:], [f"198.51.100.{n + 1}" for n in range(args.addresses)],
                     connections=args.connections, leave=args.leave, rng=rng)
        flood_end, flood_end_db = time.monotonic(), timezone.now()
        cpu.append(sampler.cpu_seconds())
        through_django.append(django_refusals(data_dir / "serve.log"))
        pool_during = pool_rows_since(flood_start_db)
        # How soon the filler stores a batch again once the flood is over.
        resumed = None
        while time.monotonic() - flood_end < 120:
            if pool_rows_since(flood_end_db):
                resumed = time.monotonic() - flood_end
                break
            time.sleep(0.05)
        reader.stopping.set()
        sampler.stopping.set()
        reader.join(30)
        quiet, during = reader.between(quiet_start, quiet_end), reader.between(flood_start, flood_end)
        sampler.join(10)

        for name, result, clients in [("flood A, one address", one, 1), ("flood B", many, args.addresses)]:
            counts = ", ".join(f"{status or 'failed'}: {count}" for status, count in sorted(result["statuses"].items()))
            rows.append((f"{name} ({args.ids} new ids, {clients} address(es))", counts))
        stayed = one["stayed"] + many["stayed"]
        left = one["left"] + many["left"]
        rows.append(("new rows stored for the flood's ids", f"{len(stored_among(new_ids))} "
                     f"(of {len(stayed)} admitted who stayed, {len(left)} admitted who left)"))
        rows.append(("songs written after their visitors left", f"{len(stored_among(left))} "
                     "(a writer had started them: only queued songs are dropped)"))
        # The flood client waits for each answer: unpaced, a cheaper refusal makes the
        # flood end sooner rather than use less of the machine meanwhile, so its cost
        # shows here; paced, a flood lasts about its refusals over the pace.
        rows.append(("flood A: duration, web CPU per request",
                     f"{one_end - flood_start:.1f} s, {(cpu[1] - cpu[0]) / args.ids * 1000:.2f} ms"))
        rows.append(("flood B: duration, web CPU per request",
                     f"{flood_end - one_end:.1f} s, {(cpu[2] - cpu[1]) / args.ids * 1000:.2f} ms "
                     "(until its admitted visitors have their songs)"))
        # The front answers refusals itself; Django answers the first of each kind per
        # process (the front learns its headers) and those the front foresaw admitted
        # that the visit then refused.
        rows.append(("refusals answered by Django, flood A / flood B",
                     f"{through_django[0]} / {through_django[1] - through_django[0]}"))
        rows.append(("web process(es), peak during the run", f"{sampler.peak_threads} threads, "
                     f"RSS {sampler.peak_rss / 2**20:.0f} MB"))
        rows.append(("stored page, quiet", f"p50 {p(quiet, .5):.1f} ms, p99 {p(quiet, .99):.1f} ms "
                     f"({len(quiet)} pages)"))
        rows.append(("stored page, during the flood", f"p50 {p(during, .5):.1f} ms, p99 {p(during, .99):.1f} ms "
                     f"({len(during)} pages; p99 {p(during, .99) / p(quiet, .99):.2f}x quiet)"))
        # The goal in pages: a flood that lasts longer holds more pages, and a p99 over more
        # pages can fall while as many readers wait as long; this count does not.
        slow = p(quiet, .99) * 2 / 1000
        rows.append(("stored pages during the flood over 2x the quiet p99",
                     f"{sum(seconds > slow for seconds in during)} of {len(during)}"))
        errors: dict[int, int] = {}
        for _, _, status in reader.latencies:
            if status != 200:
                errors[status] = errors.get(status, 0) + 1
        rows.append(("reader errors", f"{sum(errors.values())}" + (" (" + ", ".join(
            f"{status or 'failed'}: {count}" for status, count in sorted(errors.items())) + ")" if errors else "")))
        rows.append(("pool songs stored during the flood", f"{pool_during} in {flood_end - flood_start:.1f} s"))
        rows.append(("pool filler stores again after the flood",
                     f"{resumed:.2f} s" if resumed is not None else "not within 120 s"))

    shape = f"scaled: {args.web_processes} web processes, {args.workers} workers" if args.scaled else "one machine"
    print(f"\nBillion Songs new-id flood, {shape} ({os.cpu_count()} CPUs shared by server and clients; loopback; "
          f"fake generator, {args.fake_line_delay}s a line; caps: {args.per_client} per client, queue "
          f"{args.queue}, {args.at_once} at once; early refusals paced at {args.early_refusals_per_second:g} a second "
          f"per web process; streamed pages look for news every {args.stream_interval:g} s)\n")
    print_measures(rows)


if __name__ == "__main__":
    main()
