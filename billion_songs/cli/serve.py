"""`billion-songs serve`: the web site on one machine (SQLite, the in-process model)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the database and the secret key live [default: the user data directory, "
                   "or BILLION_SONGS_DATA_DIR].")
@click.option("--model", default=None, help="Model to serve [default: the embedded model].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Threads for generation [default: the engine's choice].")
def serve(host: str, port: int, data_dir: Path | None, model: str | None, threads: int | None) -> None:
    """Serve the web site: apply migrations, load the model, then answer on HOST:PORT."""
    from billion_songs.web import server  # Django loads only for this command

    server.run(host=host, port=port, data_dir=data_dir, model=model, threads=threads)
