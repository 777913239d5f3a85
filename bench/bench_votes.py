"""What a vote costs a web process in CPU, path by path, side by side in one run.

    python bench/bench_votes.py                 # 400 votes a path, 3 rounds
    python bench/bench_votes.py --votes 200 --rounds 5

In this process, with the production settings on a fresh PostgreSQL database (dropped at
the end) and a private `redis-server`: 10 stored songs, 200 signed-in voters (sessions made
as bench_scale.py makes them). Each path answers --votes votes one after the other (value
up, down or none, random voter and song), called as uvicorn calls the ASGI application;
the CPU time of this process (`time.process_time`: every thread, the vote threads
included; PostgreSQL and Redis are other processes) is divided by the votes. Rounds
alternate the paths, and the table gives each path's median round:

- the old path: Django's ASGI handler (`django_application`) answering the whole `/me`
  fragment (`X-Fragment: me`), as votes were served before config/short_requests.py;
- the site's application (config/asgi.py: `ShortRequestHandler`), the whole fragment;
- the site's application, the vote part (`X-Fragment: votes`): what the page's script
  sends now;
- and a bare `GET /healthz` through each handler, for Django's own cost per request.

The vote statement is the same in every path (on PostgreSQL the songs_vote_cast function).
Prints a Markdown table with ratios to the old path. Needs redis-server and a PostgreSQL
server on which --postgres-url may create databases.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_scale import (  # noqa: E402  (after the path)
    database_create,
    database_drop,
    django_start,
    site_environment,
    songs_seed,
    songs_stored,
    voters_create,
)
from tests.support.asgi import call  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402


class Votes:
    """Random votes by the voters on the songs."""

    def __init__(self, voters, song_ids: list[int], seed: int = 1):
        self.voters, self.song_ids, self.rng = voters, song_ids, random.Random(seed)

    def next(self, fragment: str) -> tuple[str, bytes, list[tuple[bytes, bytes]]]:
        voter, song_id = self.rng.choice(self.voters), self.rng.choice(self.song_ids)
        body = f"value={self.rng.choice(['up', 'down', 'none'])}&csrfmiddlewaretoken={voter.csrf_token}".encode()
        return f"/song/{song_id}/vote", body, [
            (b"cookie", voter.cookie.encode()), (b"x-fragment", fragment.encode()),
            (b"content-type", b"application/x-www-form-urlencoded")]


async def cpu_per_request(requests: int, make, expected: int) -> float:
    """Milliseconds of this process's CPU per request; `make()` gives (app, method, path, body, headers)."""
    started = time.process_time()
    for _ in range(requests):
        app, method, path, body, headers = make()
        status, _, _ = await call(app, method, path, body=body, headers=headers, host="127.0.0.1")
        if status != expected:
            raise SystemExit(f"{method} {path}: {status}, expected {expected}")
    return 1000 * (time.process_time() - started) / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=400, help="votes (and bare requests) a path, a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median round is reported")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL database to create the bench's database from")
    args = parser.parse_args()

    database = database_create(args.postgres_url)
    redis_server = RedisServer(Path(tempfile.mkdtemp(prefix="bench-votes-redis-")))
    redis_server.start()
    try:
        settings = argparse.Namespace(pool_target=100, pool_batch=8, pool_serves=10, fake=True,
                                      fake_song_delay=0.0, fake_line_delay=0.0)
        env = site_environment(settings, data_dir=Path(tempfile.mkdtemp(prefix="bench-votes-")),
                               database_url=database, redis_url=redis_server.url)
        django_start(env)
        songs_seed(50)
        song_ids = songs_stored(10)
        voters = voters_create(200)
        from billion_songs.web.config.asgi import application, django_application
        from billion_songs.web.config.short_requests import ShortRequestHandler

        short = ShortRequestHandler()
        votes = Votes(voters, song_ids)
        paths = {
            "vote, whole fragment, Django's ASGI handler (before)":
                (lambda: (django_application, "POST", *votes.next("me")), 200),
            "vote, whole fragment, the site (ShortRequestHandler)":
                (lambda: (application, "POST", *votes.next("me")), 200),
            "vote, vote part, the site (what the page sends now)":
                (lambda: (application, "POST", *votes.next("votes")), 200),
            "GET /healthz, Django's ASGI handler":
                (lambda: (django_application, "GET", "/healthz", b"", []), 200),
            "GET /healthz, ShortRequestHandler":
                (lambda: (short, "GET", "/healthz", b"", []), 200),
        }

        async def measure() -> dict[str, list[float]]:
            for make, expected in paths.values():  # warm: every voter's session into the cache, templates loaded
                await cpu_per_request(len(voters), make, expected)
            found: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(args.rounds):
                for name, (make, expected) in paths.items():
                    found[name].append(await cpu_per_request(args.votes, make, expected))
            return found

        found = asyncio.run(measure())
    finally:
        from django.db import connections

        connections.close_all()
        database_drop(args.postgres_url, database)
        redis_server.kill()

    first = statistics.median(next(iter(found.values())))
    print(f"\nCPU per request in one web process, {args.votes} requests a path, median of {args.rounds} rounds; "
          f"production settings on PostgreSQL and Redis, loopback.\n")
    print("| path | CPU ms per request | vs the old vote path |")
    print("|---|---:|---:|")
    for name, rounds in found.items():
        median = statistics.median(rounds)
        print(f"| {name} | {median:.2f} | {median / first:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
