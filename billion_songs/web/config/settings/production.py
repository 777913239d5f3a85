"""What `billion-songs serve` runs: no debug pages, a real secret key, and HTTPS by default
when the public address is https (the embedded server speaks plain HTTP; TLS is a proxy's
job, which says so with X-Forwarded-Proto)."""

from pathlib import Path

from billion_songs.web.config.env import (
    checked_secret_key,
    env_bool,
    env_int,
    env_list,
    private_directory,
    private_file,
    secret_key_in,
)
from billion_songs.web.config.settings.base import *
from billion_songs.web.config.settings.base import DATA_DIR, DATABASES, SECRET_KEY, SITE_URL, TRUSTED_PROXIES

DEBUG = False
# The data directory and the SQLite database are this user's only (0700, 0600).
private_directory(DATA_DIR)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    private_directory(Path(DATABASES["default"]["NAME"]).parent)
    private_file(Path(DATABASES["default"]["NAME"]))
# DJANGO_SECRET_KEY, refused when short or the example's placeholder; else a key kept in
# the data directory (created on first start, 0600).
SECRET_KEY = checked_secret_key(SECRET_KEY, "DJANGO_SECRET_KEY") if SECRET_KEY else secret_key_in(DATA_DIR)

# HTTPS: with an https BILLION_SONGS_SITE_URL, cookies are Secure, plain-HTTP requests are
# redirected and HSTS tells browsers to use HTTPS only (a year; no subdomains, no
# preload: those commit more than this host). Each can still be set on its own.
HTTPS = SITE_URL.startswith("https://")
# Trust X-Forwarded-Proto: https by default when trusted proxies are configured (the
# client-address middleware drops the header from anyone else), else when asked for.
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", bool(TRUSTED_PROXIES)):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", HTTPS)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", HTTPS)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [SITE_URL] if SITE_URL else [])

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
