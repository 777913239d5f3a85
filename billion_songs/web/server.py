"""Starting the site: settings from options, migrations, the model, then uvicorn.

The order matters. The generator is loaded (and, on a fresh machine, prepared with
progress on the terminal) before the port is opened, so no visitor ever reaches a site
without a model; migrations run first so a new data dir works with no other command.
"""

from __future__ import annotations

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


def run(*, host: str, port: int, data_dir: Path | None = None, model: str | None = None,
        threads: int | None = None) -> None:
    configure(host=host, data_dir=data_dir)

    import django

    django.setup()

    import uvicorn
    from django.conf import settings
    from django.core.management import call_command

    from billion_songs.web.songs import runtime

    click.echo(f"Data directory: {settings.DATA_DIR}")
    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    click.echo("Applying database migrations...")
    call_command("migrate", interactive=False, verbosity=0)
    click.echo("Loading the lyrics model (the first start prepares it, with progress below)...")
    songs = runtime.start(model=model, threads=threads)
    click.echo(f"Model ready: {songs.generator.model_version}")

    from billion_songs.web.config.asgi import application

    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Starting the web server on http://{shown}:{port}/ ...")
    try:
        uvicorn.run(
            application,
            host=host,
            port=port,
            lifespan="off",  # Django's ASGI handler does not speak the lifespan protocol
            log_level="info",  # says when the port is open ("Uvicorn running on ...")
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=5,  # songs still streaming get 5 s to finish
        )
    finally:
        songs.stop()
