"""Load benchmark of the scaled-out site: two web processes and one Celery worker on
PostgreSQL and Redis, on loopback, bounded in time (about a minute with --fake).

    python bench/bench_scale.py --fake                  # the fake generator: a quick run
    python bench/bench_scale.py                         # the real (default) model in the worker
    python bench/bench_scale.py --fake --duration 5 --pool-target 2000 --fill 2000

What it does:

1. A fresh PostgreSQL database (dropped at the end), a private `redis-server` (nothing on
   disk; or --redis-url, a db that is flushed) and a temporary data dir. The database is
   migrated and seeded with --pool-target minus --fill songs marked as pooled (fake songs
   written in bulk: what a filled pool leaves in the database), and --voters users, each
   signed in by a session row made the way `django.contrib.auth.login` makes one (signing
   in over HTTP would first hash 200 passwords) and given a CSRF cookie whose value the
   vote form also sends, as the site's own forms do.
2. `billion-songs serve --workers 2` and `billion-songs worker` as subprocesses with the
   same environment; their logs stay in the temp dir (tails printed on failure, which
   keeps the dir; --keep keeps it always). The bench waits for /healthz, both web
   processes, and the pool (SCARD bs:pool:ids) at its target: the worker restores the
   seeded songs, then writes the last --fill itself, timed: its rate with no other load.
3. A probe of each request (a song page, Make Random, a vote: 200, 302 and 200 expected),
   then wrk, --connections connections and 2 threads, --duration seconds a phase, through
   bench/scale/requests.lua:
   - song pages: --pages stored songs, round robin, each visited once before (cached);
   - Make Random: /random, a 302 to a pooled song; a pooled song leaves the pool after
     --pool-serves serves, and the worker writes new ones;
   - votes: POST /song/<id>/vote, value up, down or none, from --voters users on
     --vote-songs songs (many users on few songs: contention on the tally rows), sent as
     the song page's script sends them (header X-Fragment: votes): 200 and the refreshed
     vote part of the fragment, while a refusal keeps its status (400, 401, 403, 410).
   - votes at a rate: the same votes, not from wrk but sent open loop (bench/scale/paced.py)
     at --vote-rate a second on average, independent arrivals: the latency visitors see
     when the site has that many votes a second to answer. wrk's closed loop measures the
     most the site answers, where each request waits behind the others (its latency is
     about the connections divided by the rate, whatever the site does).
   Errors: responses other than 2xx/3xx, plus socket errors (timeouts included).
4. A thread samples the pool size every 0.5 s. "The pool never runs dry": its minimum
   stays above zero. Whether the worker kept up: per phase, the songs it wrote per second
   against the songs served out of the pool per second; and for Make Random's rate, the
   songs per second it takes from the pool in the long run against the worker's best rate.
5. Lost votes: for every song voted on, the counts of its Vote rows must equal its
   SongTally (up, down, and score = up - down) and the Redis counts cache bs:votes:<id>
   (up, down, and its revision equal to the tally's).

Prints a Markdown table and the findings; exits 1 if a phase had errors, a vote count was
off or the pool ran dry. Needs wrk (apt-get install wrk), redis-server, and a PostgreSQL
server on which --postgres-url may create databases.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scale.paced import paced  # noqa: E402  (after the path)
from tests.support.processes import FAKE_GENERATOR, Process, cli, request  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.waiting import free_port, wait_for  # noqa: E402

LUA_SCRIPT = ROOT / "bench" / "scale" / "requests.lua"
POOL_IDS = "bs:pool:ids"  # billion_songs.web.songs.generation.redis_pool.IDS
POOL_RESTORED = "bs:pool:restored"  # billion_songs.web.songs.runtime.worker.RESTORED: set after the restore
WRK_THREADS = 2


# --- PostgreSQL ---------------------------------------------------------------------------

def database_create(admin_url: str) -> str:
    """A new, empty database; returns its URL."""
    name = f"billion_songs_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def database_drop(admin_url: str, database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def site_environment(args, *, data_dir: Path, database_url: str, redis_url: str) -> dict:
    """What every process of the site runs with (and this one, for Django)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BILLION_SONGS_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "billion_songs.web.config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # the same for the bench's sessions and the servers
        "BILLION_SONGS_POOL_TARGET": str(args.pool_target),
        "BILLION_SONGS_POOL_BATCH": str(args.pool_batch),
        "BILLION_SONGS_POOL_SERVES": str(args.pool_serves),
        "PYTHONUNBUFFERED": "1",
    }
    if args.fake:
        env["BILLION_SONGS_GENERATOR_FACTORY"] = FAKE_GENERATOR
        env["BILLION_SONGS_FAKE_SONG_DELAY"] = str(args.fake_song_delay)
        env["BILLION_SONGS_FAKE_LINE_DELAY"] = str(args.fake_line_delay)
    else:
        env.pop("BILLION_SONGS_GENERATOR_FACTORY", None)  # the default: the real engine
    return env


# --- The database, through Django in this process ----------------------------------------

def django_start(env: dict) -> None:
    """Set up Django here on the site's database and migrate it (the servers then find
    nothing to migrate)."""
    os.environ.update({name: env[name] for name in
                       ("DATABASE_URL", "REDIS_URL", "BILLION_SONGS_DATA_DIR", "DJANGO_SETTINGS_MODULE",
                        "DJANGO_SECRET_KEY")})
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def songs_seed(count: int) -> None:
    """Store `count` songs marked as pooled: the worker restores them into Redis."""
    from billion_songs.core.fake import FakeLyricsGenerator
    from billion_songs.web.songs.data import services

    rng = random.Random(2024)
    generator = FakeLyricsGenerator(model_version="bench-seed")
    for start in range(0, count, 2000):
        ids = [rng.getrandbits(64) for _ in range(min(2000, count - start))]
        services.songs_store_for_pool(songs=generator.generate(ids))


def songs_stored(count: int) -> list[int]:
    """Ids of `count` stored, votable songs."""
    from billion_songs.web.songs.data.models import Song

    return list(Song.objects.filter(ok=True, hidden=False).order_by("?").values_list("id", flat=True)[:count])


def songs_count() -> int:
    from billion_songs.web.songs.data.models import Song

    return Song.objects.count()


@dataclass
class Voter:
    user_id: int
    cookie: str  # the Cookie header: session and CSRF cookies
    csrf_token: str  # what the form sends as csrfmiddlewaretoken


def voters_create(count: int) -> list[Voter]:
    """`count` users, each signed in: a session row as `django.contrib.auth.login` writes
    it, and a CSRF secret sent both as the cookie and in the form (Django compares them)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.crypto import get_random_string

    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench-voter-{index:04d}", password=make_password(None)) for index in range(count)])
    voters = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        token = get_random_string(32)  # letters and digits, the CSRF secret's alphabet
        cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}; {settings.CSRF_COOKIE_NAME}={token}"
        voters.append(Voter(user.pk, cookie, token))
    return voters


@dataclass
class VoteCheck:
    songs: int = 0
    vote_rows: int = 0
    cached: int = 0  # songs whose counts were in Redis
    mismatches: list[str] = field(default_factory=list)


def votes_check(song_ids: list[int], redis_client: redis.Redis) -> VoteCheck:
    """Vote rows == SongTally == Redis counts, song by song."""
    from django.db.models import Count, Q

    from billion_songs.web.songs.data.models import SongTally, Vote
    from billion_songs.web.songs.data.vote_counts import counts_key

    counted = {row["song_id"]: (row["up"], row["down"]) for row in
               Vote.objects.filter(song_id__in=song_ids).values("song_id")
               .annotate(up=Count("pk", filter=Q(value=Vote.UP)), down=Count("pk", filter=Q(value=Vote.DOWN)))}
    tallies = {tally.song_id: tally for tally in SongTally.objects.filter(song_id__in=song_ids)}
    check = VoteCheck(songs=len(song_ids), vote_rows=Vote.objects.filter(song_id__in=song_ids).count())
    for song_id in song_ids:
        truth = counted.get(song_id, (0, 0))
        tally = tallies.get(song_id)
        in_db = (tally.up, tally.down) if tally else (0, 0)
        if in_db != truth or (tally and tally.score != tally.up - tally.down):
            check.mismatches.append(f"song {song_id}: votes {truth}, SongTally {in_db} score "
                                    f"{tally.score if tally else 0}")
        up, down, revision = redis_client.hmget(counts_key(song_id), "up", "down", "rev")
        if up is None:
            continue
        check.cached += 1
        cached = (int(up), int(down))
        if cached != truth or (tally and int(revision) != tally.revision):
            check.mismatches.append(f"song {song_id}: votes {truth}, Redis {cached} rev {revision}, "
                                    f"SongTally rev {tally.revision if tally else None}")
    return check


# --- The pool, sampled -------------------------------------------------------------------

class PoolSampler(threading.Thread):
    """SCARD of the pool every `interval` seconds, labelled with the current phase."""

    def __init__(self, redis_url: str, interval: float = 0.5):
        super().__init__(name="pool-sampler", daemon=True)
        self.client = redis.Redis.from_url(redis_url)
        self.interval = interval
        self.phase = "start"
        self.samples: list[tuple[str, int]] = []
        self._stopping = threading.Event()

    def size(self) -> int:
        return self.client.scard(POOL_IDS)

    def sample(self, phase: str) -> int:
        """The size now, recorded as a sample of `phase`."""
        size = self.size()
        self.samples.append((phase, size))
        return size

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.samples.append((self.phase, self.size()))
            except redis.RedisError:
                pass
            self._stopping.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()
        self.join(5)

    def sizes(self, phase: str | None = None) -> list[int]:
        return [size for label, size in self.samples if phase is None or label == phase]


# --- HTTP: probes and wrk ----------------------------------------------------------------

def healthy(port: int) -> bool:
    try:
        return request(port, "GET", "/healthz")[0] == 200
    except OSError:
        return False


def vote_request(voter: Voter, song_id: int, value: str) -> tuple[str, str, dict]:
    """(path, body, headers) of a vote as the song page's script sends it."""
    headers = {"Cookie": voter.cookie, "X-Fragment": "votes", "Content-Type": "application/x-www-form-urlencoded"}
    return f"/song/{song_id}/vote", f"value={value}&csrfmiddlewaretoken={voter.csrf_token}", headers


def requests_file(path: Path, requests: list[tuple[str, str, str, dict]]) -> Path:
    """Write (method, path, body, headers) lines for bench/scale/requests.lua."""
    with open(path, "w") as file:
        for method, url_path, body, headers in requests:
            fields = [method, url_path, body, *(f"{name}: {value}" for name, value in headers.items())]
            assert not any("\t" in f or "\n" in f for f in fields)
            file.write("\t".join(fields) + "\n")
    return path


def wrk(port: int, requests: Path, *, connections: int, duration: int) -> dict:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s",
               "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}", "--", str(requests), str(WRK_THREADS)]
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_counts = dict(zip(("connect", "read", "write", "timeout"), map(int, socket_errors.groups()))) \
        if socket_errors else {}
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _ms(latency["50"]),
        "p99": _ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": {name: count for name, count in socket_counts.items() if count},
    }


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


# --- The run -----------------------------------------------------------------------------

@dataclass
class Phase:
    name: str
    result: dict
    pool_start: int
    pool_end: int
    pool_min: int
    written: int  # songs the worker stored during the phase
    seconds: float

    @property
    def errors(self) -> int:
        return self.result["non_2xx"] + sum(self.result["socket_errors"].values())

    @property
    def drawn(self) -> int:
        """Songs that left the pool (served out), from its size and what was added."""
        return max(0, self.pool_start + self.written - self.pool_end)


class Site:
    """The database, Redis, the data dir and the site's processes, torn down by close()."""

    def __init__(self, args, tmp: Path):
        self.args = args
        self.tmp = tmp
        self.processes: list[Process] = []
        self.redis_server: RedisServer | None = None
        self.database_url: str | None = None
        self.port = free_port()

    def start_services(self) -> dict:
        args = self.args
        if args.redis_url:
            redis_url = args.redis_url
            redis.Redis.from_url(redis_url).flushdb()
        else:
            self.redis_server = RedisServer(self.tmp)
            self.redis_server.start()
            redis_url = self.redis_server.url
        self.database_url = database_create(args.postgres_url)
        self.env = site_environment(args, data_dir=self.tmp / "data", database_url=self.database_url,
                                    redis_url=redis_url)
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        return self.env

    def start_processes(self) -> None:
        data_dir = str(self.tmp / "data")
        web = cli("serve", "--port", str(self.port), "--workers", "2", "--data-dir", data_dir)
        worker = cli("worker", "--data-dir", data_dir, "--loglevel", self.args.worker_loglevel)
        if self.args.model:
            worker += ["--model", self.args.model]
        if self.args.threads:
            worker += ["--threads", str(self.args.threads)]
        self.processes.append(Process("web", web, self.env, self.tmp / "web.log", cwd=ROOT))
        self.processes.append(Process("worker", worker, self.env, self.tmp / "worker.log", cwd=ROOT))

    def wait_ready(self, sampler: PoolSampler) -> float:
        """Wait for both web processes and a full pool; returns the seconds the worker
        took to fill the pool from the seeded songs it restored to its target."""
        timeout = self.args.start_timeout
        wait_for(lambda: healthy(self.port), timeout=timeout, what="/healthz", processes=self.processes)
        web = self.processes[0]
        # Both uvicorn processes up (each logs its start), so neither starts during a phase.
        wait_for(lambda: web.output().count("Started server process") >= 2, timeout=timeout,
                 what="both web processes", processes=self.processes)
        wait_for(lambda: self.redis.exists(POOL_RESTORED), timeout=timeout, what="the worker's pool restore",
                 processes=self.processes, interval=0.05)
        restored = time.monotonic()
        wait_for(lambda: sampler.size() >= self.args.pool_target, timeout=timeout,
                 what=f"the pool to reach {self.args.pool_target} songs", processes=self.processes, interval=0.05)
        return time.monotonic() - restored

    def tails(self) -> str:
        return "\n".join(f"----- {p.name} ({p.log_path}) -----\n{p.tail()}" for p in self.processes)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop(signal.SIGINT if process.name == "web" else signal.SIGTERM)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django never set up
            pass
        if self.database_url:
            database_drop(self.args.postgres_url, self.database_url)
        if self.redis_server:
            self.redis_server.kill()
        elif self.args.redis_url:
            redis.Redis.from_url(self.args.redis_url).flushdb()


PHASES = ("pages", "random", "votes", "votes-rate")


def phase_names(text: str) -> set[str]:
    names = set(text.split(","))
    if not names or not names <= set(PHASES):
        raise argparse.ArgumentTypeError(f"phases are some of {','.join(PHASES)}, not {text!r}")
    return names


def run_phase(name: str, site: Site, sampler: PoolSampler, requests: Path | list, args, rate: float = 0) -> Phase:
    """A phase of wrk on the requests in the file `requests`, or with `rate`, the list
    `requests` sent open loop at that rate."""
    load = f"{rate:g} a second, open loop" if rate else f"{args.connections} connections"
    print(f"phase: {name} ({args.duration}s, {load})", file=sys.stderr)
    sampler.phase = name
    pool_start, written_start, started = sampler.sample(name), songs_count(), time.monotonic()
    if rate:
        result = paced(site.port, requests, rate=rate, duration=args.duration)
    else:
        result = wrk(site.port, requests, connections=args.connections, duration=args.duration)
    seconds = time.monotonic() - started
    pool_end, written = sampler.sample(name), songs_count() - written_start
    sampler.phase = f"after {name}"
    return Phase(name, result, pool_start, pool_end, min(sampler.sizes(name)), written, seconds)


def probe(site: Site, page_ids: list[int], vote: tuple[str, str, dict]) -> None:
    """One request of each kind, checked, before the load: a broken session or CSRF setup
    must fail here, not show up as a column of errors."""
    status, _, body = request(site.port, "GET", f"/song/{page_ids[0]}")
    if status != 200:
        raise RuntimeError(f"song page: status {status}")
    status, headers, _ = request(site.port, "GET", "/random")
    if status != 302 or not headers.get("location", "").startswith("/song/"):
        raise RuntimeError(f"Make Random: status {status}, location {headers.get('location')!r}")
    path, body, headers = vote
    status, _, answer = request(site.port, "POST", path, body=body, headers=headers)
    if status != 200 or b"Sign in" in answer:
        raise RuntimeError(f"vote: status {status}: {answer[:300]!r}")


def pages_warm(site: Site, page_ids: list[int]) -> None:
    """Visit every page once, so the phase measures cached pages."""
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30)
    for song_id in page_ids:
        connection.request("GET", f"/song/{song_id}")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"song page {song_id}: status {response.status}")
    connection.close()


def vote_requests(voters: list[Voter], song_ids: list[int], count: int) -> list[tuple[str, str, str, dict]]:
    """`count` votes: users in turn, each on a random one of `song_ids`, up 2/4, down 1/4,
    withdrawn 1/4 (so rows are created, changed and deleted)."""
    rng = random.Random(7)
    requests = []
    for index in range(count):
        voter = voters[index % len(voters)]
        path, body, headers = vote_request(voter, rng.choice(song_ids), rng.choice(["up", "up", "down", "none"]))
        requests.append(("POST", path, body, headers))
    return requests


@dataclass
class Startup:
    seconds: float  # from starting the processes to a full pool
    filled: int  # songs the worker wrote to bring the restored pool to its target
    fill_seconds: float

    @property
    def fill_rate(self) -> float | None:
        return self.filled / self.fill_seconds if self.filled and self.fill_seconds > 0 else None


def report(args, phases: list[Phase], sampler: PoolSampler, check: VoteCheck, startup: Startup) -> bool:
    """Print the table and the pool and vote findings; True when everything held."""
    model = "fake generator" if args.fake else f"real model ({args.model or 'the default: embedded + shipped adapter'})"
    print(f"\nBillion Songs scale-out bench: 2 web processes + 1 worker on PostgreSQL and Redis; {model}.")
    print(f"Machine: {os.cpu_count()} CPUs, shared by wrk ({WRK_THREADS} threads, {args.connections} connections), "
          f"both web processes, the worker, PostgreSQL and Redis; loopback only; {args.duration}s per phase.\n")
    print("| phase | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|")
    for phase in phases:
        r = phase.result
        detail = f" ({', '.join(f'{k} {v}' for k, v in r['socket_errors'].items())})" if r["socket_errors"] else ""
        print(f"| {phase.name} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
              f"{phase.errors} of {r['requests']:,}{detail} |")
    print()
    pool_ok = pool_report(args, phases, sampler, startup)
    print(f"- votes: {check.songs} songs checked, {check.vote_rows} vote rows, {check.cached} with counts in Redis; "
          f"{len(check.mismatches)} mismatches (lost votes)")
    for mismatch in check.mismatches[:10]:
        print(f"  - {mismatch}")
    errors = sum(phase.errors for phase in phases)
    passed = errors == 0 and not check.mismatches and pool_ok
    print(f"- result: {'PASS' if passed else 'FAIL'} ({errors} errors, {len(check.mismatches)} vote mismatches, "
          f"pool min {min(sampler.sizes())})")
    return passed


def pool_report(args, phases: list[Phase], sampler: PoolSampler, startup: Startup) -> bool:
    """The pool's lines of the report; True if it never ran dry."""
    sizes = sampler.sizes()
    pool_ok = min(sizes) > 0
    print(f"- site ready in {startup.seconds:.1f}s; the worker filled the last {startup.filled} songs of the pool "
          f"in {startup.fill_seconds:.1f}s" + (f" ({startup.fill_rate:.1f} songs/s, no other load)"
                                               if startup.fill_rate else ""))
    print(f"- pool (target {args.pool_target}, {args.pool_serves} serves a song, batches of {args.pool_batch}): "
          f"min {min(sizes)}, max {max(sizes)} over {len(sizes)} samples: {'never ran dry' if pool_ok else 'RAN DRY'}")
    for phase in phases:
        written, drawn = phase.written / phase.seconds, phase.drawn / phase.seconds
        # Within two batches (one being written, one queued) of where it started counts as level.
        level = phase.pool_end >= phase.pool_start - 2 * args.pool_batch
        kept_up = "kept up" if level or written >= drawn else "fell behind"
        print(f"  - {phase.name}: pool {phase.pool_start} -> {phase.pool_end} (min {phase.pool_min}); "
              f"the worker wrote {written:.1f} songs/s, {drawn:.1f} songs/s were served out: {kept_up}")
    random_phase = next((phase for phase in phases if phase.name.startswith("Make Random")), None)
    if random_phase is None:
        return pool_ok
    demand = random_phase.result["rps"] / args.pool_serves
    capacity = max([startup.fill_rate or 0.0] + [phase.written / phase.seconds for phase in phases])
    line = (f"- in the long run, Make Random at {random_phase.result['rps']:,.0f}/s takes {demand:,.1f} songs/s out "
            f"of the pool (no voted-up songs yet, so every pick is pooled); the worker wrote at most "
            f"{capacity:,.1f} songs/s")
    if capacity >= demand:
        line += ": it keeps up"
    else:
        line += (f": it does not keep up at this rate (it does below {capacity * args.pool_serves:,.0f} Make Random/s);"
                 f" a full pool lasts about {args.pool_target / (demand - capacity):,.0f}s at this rate")
    print(line)
    return pool_ok


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # so that the site is torn down


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fake", action="store_true", help="the fake generator in the worker (a quick run)")
    parser.add_argument("--model", default=None, help="the worker's model [default: the embedded default model]")
    parser.add_argument("--threads", type=int, default=None, help="the worker's generation threads")
    parser.add_argument("--duration", type=int, default=10, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--pool-target", type=int, default=50_000, help="BILLION_SONGS_POOL_TARGET")
    parser.add_argument("--pool-batch", type=int, default=8, help="BILLION_SONGS_POOL_BATCH")
    parser.add_argument("--pool-serves", type=int, default=10, help="BILLION_SONGS_POOL_SERVES")
    parser.add_argument("--fill", type=int, default=None,
                        help="songs of the pool the worker writes at the start, timed; the rest is seeded "
                             "[default: 25 batches with --fake, 2 with a model]")
    parser.add_argument("--pages", type=int, default=500, help="stored song pages in the song-page phase")
    parser.add_argument("--phases", type=phase_names, default=set(PHASES),
                        help="the phases to run, of pages,random,votes,votes-rate (e.g. --phases votes to "
                             "compare vote settings) [default: all four]")
    parser.add_argument("--vote-rate", type=float, default=200,
                        help="votes a second, on average, in the open-loop votes phase (votes-rate)")
    parser.add_argument("--voters", type=int, default=200, help="signed-in users voting")
    parser.add_argument("--vote-songs", type=int, default=10, help="songs they vote on")
    parser.add_argument("--fake-song-delay", type=float, default=0.0, help="seconds per batch song (--fake)")
    parser.add_argument("--fake-line-delay", type=float, default=0.0, help="seconds per streamed line (--fake)")
    parser.add_argument("--start-timeout", type=float, default=300, help="seconds for the site to be ready")
    parser.add_argument("--worker-loglevel", default="warning", help="the worker's Celery log level")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL database to create the bench's database from")
    parser.add_argument("--redis-url", default=None,
                        help="an existing Redis db to use, FLUSHED at the start and the end "
                             "[default: a private redis-server]")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs) at the end")
    args = parser.parse_args()
    fill = args.fill if args.fill is not None else args.pool_batch * (25 if args.fake else 2)
    seed = max(0, args.pool_target - fill)
    for tool in ("wrk", *(() if args.redis_url else ("redis-server",))):
        if not shutil.which(tool):
            parser.error(f"{tool} is not installed")

    tmp = Path(tempfile.mkdtemp(prefix="billion-songs-scale-"))
    site = Site(args, tmp)
    sampler: PoolSampler | None = None
    passed = False
    try:
        started = time.monotonic()
        env = site.start_services()
        django_start(env)
        songs_seed(seed)
        voters = voters_create(args.voters)
        print(f"database ready ({seed} pooled songs, {len(voters)} voters) in {time.monotonic() - started:.1f}s",
              file=sys.stderr)

        started = time.monotonic()
        site.start_processes()
        sampler = PoolSampler(site.env["REDIS_URL"])
        fill_seconds = site.wait_ready(sampler)
        startup = Startup(time.monotonic() - started, args.pool_target - seed, fill_seconds)
        sampler.start()
        print(f"site ready (pool at its target) in {startup.seconds:.1f}s", file=sys.stderr)

        page_ids = songs_stored(args.pages)
        vote_song_ids = page_ids[: args.vote_songs]
        votes = vote_requests(voters, vote_song_ids, count=20 * len(voters))
        probe(site, page_ids, vote_request(voters[0], vote_song_ids[0], "up"))
        pages_warm(site, page_ids)

        phases = []
        if "pages" in args.phases:
            phases.append(run_phase("song pages", site, sampler, requests_file(
                tmp / "pages.txt", [("GET", f"/song/{song_id}", "", {}) for song_id in page_ids]), args))
        if "random" in args.phases:
            phases.append(run_phase("Make Random (302)", site, sampler, requests_file(
                tmp / "random.txt", [("GET", "/random", "", {})]), args))
        if "votes" in args.phases:
            phases.append(run_phase("votes (POST, 200)", site, sampler, requests_file(tmp / "votes.txt", votes), args))
        if "votes-rate" in args.phases:
            phases.append(run_phase(f"votes at {args.vote_rate:g}/s (open loop)", site, sampler, votes, args,
                                    rate=args.vote_rate))
        time.sleep(1.0)  # requests still in flight when wrk stopped finish writing
        sampler.stop()
        check = votes_check(vote_song_ids, site.redis)
        passed = report(args, phases, sampler, check, startup)
    except (Exception, KeyboardInterrupt) as error:
        print(f"\nFAILED: {type(error).__name__}: {error}\n{site.tails()}", file=sys.stderr)
        args.keep = True
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        site.close()
        if args.keep:
            print(f"logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
