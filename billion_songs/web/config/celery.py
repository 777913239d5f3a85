"""The Celery application: Redis is the broker, Django's settings the configuration
(every `CELERY_*` setting in settings/base.py), `billion_songs.web.songs.tasks` the tasks.
`billion-songs worker` runs it; web processes only send tasks through it."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billion_songs.web.config.settings.production")

app = Celery("billion_songs", include=["billion_songs.web.songs.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
