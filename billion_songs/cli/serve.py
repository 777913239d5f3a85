"""`billion-songs serve`: the web site. On one machine it holds the model itself (SQLite,
the in-process generator); with REDIS_URL, workers write the songs (`billion-songs worker`)."""

from __future__ import annotations

from pathlib import Path

import click

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
    model once, writes the songs visitors ask for and keeps the shared pool filled."""
    from billion_songs.web import server

    server.run_worker(data_dir=data_dir, model=model, threads=threads, concurrency=concurrency, log_level=loglevel)
