"""What `billion-songs serve` runs: no debug pages, a real secret key, HTTPS settings
opt-in from the environment (the embedded server speaks plain HTTP; TLS is a proxy's job)."""

from billion_songs.web.config.env import env_bool, env_int, env_str, secret_key_in
from billion_songs.web.config.settings.base import *
from billion_songs.web.config.settings.base import DATA_DIR, DATABASES, SECRET_KEY

DEBUG = False
SECRET_KEY = SECRET_KEY or secret_key_in(DATA_DIR)

if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
CSRF_TRUSTED_ORIGINS = [o for o in env_str("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o]

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool of open connections per process (psycopg_pool, which Django 5.1+ drives)
    # instead of a new connection per request: a vote costs several milliseconds less.
    # With health checks each connection is checked before it is handed out, so ones
    # broken by a database restart are replaced; a request waits at most `timeout`
    # seconds for a connection (then it gets the 503 page) while the database is away.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"].setdefault("pool", {
        "min_size": env_int("BILLION_SONGS_DB_POOL_MIN", 1),
        "max_size": env_int("BILLION_SONGS_DB_POOL_MAX", 8),
        "timeout": 5,
    })
