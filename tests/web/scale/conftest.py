"""A scaled-out site made of real processes, for the scale-out and fault tests: web
processes (`billion-songs serve`) and Celery workers (`billion-songs worker`) started as
subprocesses on a PostgreSQL database of the test's own and a private Redis server, so
that a test may kill -9 a worker or restart Redis without touching anything else.

The workers write songs with the fake generator, slowed down to a model's pace, so that
"in the middle of a batch" lasts long enough to be hit.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import psycopg
import pytest

from tests.support.processes import FAKE_GENERATOR, Process, Served, site_environment, start_worker
from tests.support.redis_server import RedisServer

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

pytestmark = pytest.mark.slow


class Site:
    """PostgreSQL database + private Redis + any number of web and worker processes."""

    def __init__(self, tmp: Path, database: str, redis_server: RedisServer, **settings: str):
        self.tmp = tmp
        self.database = database
        self.redis_server = redis_server
        self.processes: list[Process] = []
        self.env = site_environment(**{
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "REDIS_URL": redis_server.url,
            "BILLION_SONGS_DATA_DIR": str(tmp / "data"),
            "BILLION_SONGS_GENERATOR_FACTORY": FAKE_GENERATOR,
            "BILLION_SONGS_POOL_TARGET": "8",
            "BILLION_SONGS_POOL_BATCH": "4",
            "BILLION_SONGS_POOL_TOPUP_INTERVAL": "0.5",
            "BILLION_SONGS_FLIGHT_LEASE": "3",
            "BILLION_SONGS_FLIGHT_PATIENCE": "60",
            "BILLION_SONGS_TASK_VISIBILITY_TIMEOUT": "6",
            "BILLION_SONGS_TASK_RESTORE_INTERVAL": "1",
            "BILLION_SONGS_RANDOM_VOTED_REFRESH": "0",
            **settings,
        })

    def start_web(self, *, workers: int = 1) -> Served:
        web = Served.start(self.env, self.tmp / f"web-{len(self.processes)}.log", "--workers", str(workers))
        self.processes.append(web.process)
        return web.wait_until_healthy(timeout=90)

    def start_worker(self) -> Process:
        name = f"worker-{len(self.processes)}"
        process = start_worker(self.env, self.tmp / f"{name}.log", "--concurrency", "2", "--loglevel", "info",
                               name=name)
        self.processes.append(process)
        return process

    def sql(self, query: str, *params):
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{self.database}", autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def redis(self):
        return self.redis_server.client()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} -----\n{p.output()[-4000:]}" for p in self.processes)


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of the test's own, which it may kill and start again."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def site_factory(tmp_path, redis_server, request):
    """Make a Site on a fresh PostgreSQL database; everything is stopped and dropped after."""
    database = f"bs_scale_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {PG_ADMIN}: {error}")
    sites: list[Site] = []

    def make(**settings: str) -> Site:
        site = Site(tmp_path, database, redis_server, **settings)
        sites.append(site)
        return site

    yield make
    for site in sites:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(site.logs())
        site.stop()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report


OFFSET = 2**63  # the songs table stores id - 2**63 (billion_songs/web/songs/data/fields.py)
