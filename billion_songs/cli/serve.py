"""`billion-songs serve`: the web site. On one machine it holds the model itself (SQLite,
the in-process generator); with REDIS_URL, workers write the songs (`billion-songs worker`)."""

from __future__ import annotations

import os
from pathlib import Path

import click

# Files the site writes (the SQLite database and its -wal and -shm, the secret key) are
# readable by this user only, whatever the login shell's umask.
PRIVATE_UMASK = 0o077

DATA_DIR_HELP = ("Where the SQLite database and the secret key live [default: the user data directory, "
                 "or BILLION_SONGS_DATA_DIR].")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP)
@click.option("--model", default=None, help="Model to serve: see `billion-songs song --help` [default: embedded, with the songwriting decoder].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Threads for generation [default: the engine's choice].")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Web processes sharing the port (more than one needs REDIS_URL and `billion-songs worker`).")
def serve(host: str, port: int, data_dir: Path | None, model: str | None, threads: int | None, workers: int) -> None:
    """Serve the web site: apply migrations, load the model, then answer on HOST:PORT."""
    from billion_songs.web import server  # Django loads only for this command

    _set_up(server, host=host, data_dir=data_dir)
    for warning in startup_warnings():
        click.secho(warning, fg="yellow", err=True)
    server.run(host=host, port=port, data_dir=data_dir, model=model, threads=threads, workers=workers)


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP)
@click.option("--model", default=None, help="Model to write songs with: see `billion-songs song --help` [default: embedded].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Threads for generation [default: the engine's choice].")
@click.option("--concurrency", type=click.IntRange(min=2), default=2, show_default=True,
              help="Tasks at once: one pool batch at a time, the rest for visitors' songs.")
@click.option("--loglevel", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Celery's log level.")
def worker(data_dir: Path | None, model: str | None, threads: int | None, concurrency: int, loglevel: str) -> None:
    """Write songs for the web processes: a Celery worker on REDIS_URL that loads the
    model once, writes the songs visitors ask for and keeps the shared pool filled. It
    outlives broker and database outages; it exits non-zero on a configuration error."""
    from billion_songs.web import server

    _set_up(server, host="127.0.0.1", data_dir=data_dir)
    from billion_songs.web.songs.runtime import supervisor  # needs Django set up, as the line above does

    raise SystemExit(supervisor.run_worker(model=model, threads=threads, concurrency=concurrency, log_level=loglevel))


def _set_up(server, *, host: str, data_dir: Path | None) -> None:
    """The private umask, then Django's settings, with a settings error (a placeholder
    secret key, a bad trusted-proxy list) said in one line rather than a traceback.
    server.run() calls configure() and django.setup() again; both are idempotent."""
    import django
    from django.core.exceptions import ImproperlyConfigured

    os.umask(PRIVATE_UMASK)
    server.configure(host=host, data_dir=data_dir)
    try:
        django.setup()
        from billion_songs.web.config.middleware import trusted_networks
        from django.conf import settings

        trusted_networks(settings.TRUSTED_PROXIES)
    except ImproperlyConfigured as error:
        raise click.ClickException(str(error)) from None


def startup_warnings() -> list[str]:
    """What an operator must know before the port opens (Django is set up)."""
    from django.conf import settings

    from billion_songs.web.accounts import mail_links

    warnings = [mail_links.startup_warning()]
    if settings.SECURE_SSL_REDIRECT and not settings.SECURE_PROXY_SSL_HEADER:
        warnings.append(
            "Note: BILLION_SONGS_SITE_URL is https, so plain-HTTP requests are redirected to HTTPS. List the TLS "
            "proxy in front in BILLION_SONGS_TRUSTED_PROXIES (127.0.0.1 for one on this machine) and have it send "
            "X-Forwarded-Proto: https, or requests that came in over HTTPS may be redirected again and again.")
    return [warning for warning in warnings if warning]
