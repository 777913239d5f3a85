"""Starting the site and its workers: settings from options, migrations, the model,
then uvicorn. (`billion-songs worker` starts Celery through web/songs/runtime/supervisor.py.)

The order matters. The generator is loaded (and, on a fresh machine, prepared with
progress on the terminal) before the port is opened, so no visitor ever reaches a site
without a model; migrations run first so a new data dir works with no other command.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import click

WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def configure(*, host: str, data_dir: Path | None) -> None:
    """Environment for Django's settings; must run before django.setup()."""
    if data_dir is not None:
        os.environ["BILLION_SONGS_DATA_DIR"] = str(data_dir.expanduser().resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billion_songs.web.config.settings.production")
    if "DJANGO_ALLOWED_HOSTS" not in os.environ:
        # Listening on every interface: accept any Host (set DJANGO_ALLOWED_HOSTS, and
        # BILLION_SONGS_SITE_URL, for a public deployment). Otherwise the loopback names
        # and the address given.
        hosts = ["*"] if host in WILDCARD_HOSTS else ["localhost", "127.0.0.1", "[::1]", host]
        os.environ["DJANGO_ALLOWED_HOSTS"] = ",".join(dict.fromkeys(hosts))


def migrate() -> None:
    """Apply migrations; on PostgreSQL under an advisory lock, so that web processes
    started together on several machines migrate one after the other."""
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        call_command("migrate", interactive=False, verbosity=0)
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
        try:
            call_command("migrate", interactive=False, verbosity=0)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])


MIGRATION_LOCK = 0x6269_6C6C_736F_6E67 >> 1  # "billsong", fits a signed bigint


def run(*, host: str, port: int, data_dir: Path | None = None, model: str | None = None,
        threads: int | None = None, workers: int = 1) -> None:
    configure(host=host, data_dir=data_dir)

    import django

    django.setup()

    import uvicorn
    from django.conf import settings

    from billion_songs.web.songs.runtime import web as runtime

    if workers > 1 and not settings.SONG_WORKERS:
        raise click.UsageError(
            "several web processes share their random pool and single-flight locks through Redis, and "
            "leave writing songs to Celery workers: set REDIS_URL and start `billion-songs worker` "
            "(see the README's \"Scaling out\")")
    click.echo(f"Data directory: {settings.DATA_DIR}")
    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    click.echo("Applying database migrations...")
    migrate()
    if settings.SONG_WORKERS:
        songs = runtime.start()
        click.echo("Songs are written by Celery workers (`billion-songs worker`) through Redis; "
                   "this process loads no model.")
    else:
        click.echo("Loading the lyrics model (the first start prepares it, with progress below)...")
        songs = runtime.start(model=model, threads=threads)
        click.echo(f"Model ready: {songs.generator.model_version}")

    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Starting the web server on http://{shown}:{port}/ with {workers} process(es)...")
    options = dict(
        host=host,
        port=port,
        lifespan="off",  # Django's ASGI handler does not speak the lifespan protocol
        log_level="info",  # says when the port is open ("Uvicorn running on ...")
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,  # songs still streaming get 5 s to finish
        timeout_worker_healthcheck=60,  # a process starting on a busy machine is not dead
        # Past this many open connections uvicorn answers 503 at once instead of queueing
        # (BILLION_SONGS_LIMIT_CONCURRENCY; 0 = no limit).
        limit_concurrency=settings.WEB_LIMIT_CONCURRENCY or None,
        # X-Forwarded-For/-Proto only from the configured trusted proxies (none by default),
        # not uvicorn's default of trusting any local process.
        proxy_headers=bool(settings.TRUSTED_PROXIES),
        forwarded_allow_ips=",".join(settings.TRUSTED_PROXIES) or "",
    )
    try:
        # Each process (this one, or each of --workers) builds its application with
        # web_process_application; with several, each builds its own model-free runtime.
        uvicorn.run(f"{__name__}:web_process_application", factory=True, workers=workers, **options)
    finally:
        songs.stop()


def web_process_application():
    """The ASGI application of one web process (uvicorn's factory), built and made ready
    before the process takes its first connection: its runtime (this process's generator
    was loaded before; scaled out, the shared one) and `ready_for_visitors`."""
    from billion_songs.web.config.asgi import application
    from billion_songs.web.songs.runtime import web as runtime

    runtime.start()
    ready_for_visitors()
    return application


def ready_for_visitors() -> None:
    """What the first requests would load, loaded now: the melody's tables and the
    pronouncing dictionary (about a second), scaled out Celery (the flights' `warm`), the
    site's templates (compiled into Django's cached loader) and the database driver.
    Loaded by a request, each held the event loop, and every request of the process with
    it (a fresh process's first flood of new ids read templates from disk on the loop and
    imported Celery: bench/bench_flood.py --scaled).

    Then everything start-up made is moved out of the garbage collector's reach
    (`gc.freeze()`). Django, the model code, the dictionary and their imports live as
    long as the process; left in the oldest generation, every full collection walked them
    all, and under load (a flood of refused requests makes garbage fast) the event loop
    stopped for 100-270 ms several times a minute: the slow tail of the stored pages
    everyone else was reading (bench/bench_flood.py)."""
    from django.conf import settings
    from django.db.utils import load_backend
    from django.template.loader import get_template

    from billion_songs.core import melody
    from billion_songs.web.songs.runtime import web as runtime

    melody.warm()
    runtime.get().flights.warm()
    for directory in settings.TEMPLATES[0]["DIRS"]:  # the site's own; the admin's load when used
        for template in sorted(Path(directory).rglob("*.html")):
            get_template(template.relative_to(directory).as_posix())
    load_backend(settings.DATABASES["default"]["ENGINE"])
    gc.collect()  # what start-up left as garbage goes now, not frozen with the rest
    gc.freeze()
    click.echo(f"Web process {os.getpid()} ready: melody loaded, {gc.get_freeze_count():,} start-up objects "
               "kept out of the garbage collector's way")
