"""The ASGI application that `billion-songs serve` runs under uvicorn."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billion_songs.web.config.settings.production")
application = get_asgi_application()
