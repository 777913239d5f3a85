"""A web process made ready before its first visitor (web/server.py `ready_for_visitors`):
what a first request would load is loaded at start, not by a request on the event loop."""

from __future__ import annotations

import gc
import subprocess
import sys

from django.template import engines

from billion_songs.web import server
from tests.support.processes import site_environment
from tests.support.waiting import free_port


def test_the_sites_templates_are_compiled_before_the_first_request(songs_runtime):
    cached_loader = engines["django"].engine.template_loaders[0]
    cached_loader.reset()
    try:
        server.ready_for_visitors()
    finally:
        gc.unfreeze()  # this test process is no web process
    compiled = set(cached_loader.get_template_cache)
    # The song page, the page streamed while a song is written, and a refusal's page.
    assert {"songs/song.html", "songs/writing_start.html", "songs/writing_end.html", "songs/busy.html"} <= compiled


_WARM_WITH_THE_BROKER_AWAY = """
import time
import django
django.setup()
from billion_songs.web.songs.generation.redis_flights import RedisFlights
started = time.monotonic()
RedisFlights().warm()
print(f"warm {time.monotonic() - started:.2f} s")
"""


def test_celery_is_loaded_at_start_without_waiting_for_an_unreachable_broker(tmp_path):
    """Scaled out, a web process loads Celery before its first visitor; with Redis (the
    broker) away, kombu would retry for seconds: the process starts without connecting."""
    env = site_environment(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", BILLION_SONGS_DATA_DIR=str(tmp_path),
                           DJANGO_SETTINGS_MODULE="billion_songs.web.config.settings.production",
                           DJANGO_SECRET_KEY="k" * 60)
    done = subprocess.run([sys.executable, "-c", _WARM_WITH_THE_BROKER_AWAY], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.split()[-2]) < 2.0, done.stdout
