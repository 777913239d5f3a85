"""The ASGI application that `billion-songs serve` runs under uvicorn: Django, with Make
Random (when the in-memory pool can), cached song pages and admission refusals answered
in front of it (songs/http/fast_path.py), and votes and the song views through leaner
handlers without a thread per request (config/short_requests.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billion_songs.web.config.settings.production")
django_application = get_asgi_application()

from billion_songs.web.config.short_requests import with_short_requests  # noqa: E402  (needs Django set up)
from billion_songs.web.songs.http.fast_path import with_fast_random  # noqa: E402

# Votes and song views through Django without a thread per request (config/short_requests.py).
application = with_fast_random(with_short_requests(django_application))
