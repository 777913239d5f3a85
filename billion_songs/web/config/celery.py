"""The Celery application: the broker is REDIS_URL's Redis (or CELERY_BROKER_URL's, which
may be RabbitMQ), Django's settings the configuration (every `CELERY_*` setting in
settings/base.py, reconnection after an outage included), `billion_songs.web.songs.runtime.tasks`
the tasks. `billion-songs worker` runs it (songs/runtime/supervisor.py); web processes only
send tasks through it."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billion_songs.web.config.settings.production")

app = Celery("billion_songs", include=["billion_songs.web.songs.runtime.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
