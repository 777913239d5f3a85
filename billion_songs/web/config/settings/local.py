"""Development: debug pages, a fixed secret key, any localhost name."""

from billion_songs.web.config.env import env_bool, env_str
from billion_songs.web.config.settings.base import *

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "local-development-only-not-secret")
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
