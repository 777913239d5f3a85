"""Settings shared by every environment; everything that differs between machines comes
from the environment (cookiecutter-django style). local.py, production.py and test.py
start from here."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from billion_songs.web.config.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    sqlite_database,
)

WEB_DIR = Path(__file__).resolve().parents[2]  # billion_songs/web

# Where the SQLite database, the secret key and other state live. `billion-songs serve
# --data-dir D` sets BILLION_SONGS_DATA_DIR before Django starts.
DATA_DIR = Path(env_str("BILLION_SONGS_DATA_DIR") or platformdirs.user_data_path("billion-songs"))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")  # production.py falls back to a key in DATA_DIR
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
# The public base URL ("https://songs.example.com"), used for og:url and share links.
# When empty, it is taken from the request; the page cache then keys on the host so
# that a forged Host header can never end up in a page served to someone else.
SITE_URL = env_str("BILLION_SONGS_SITE_URL").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",  # moderation: songs, votes, suggestions, users
    "django.contrib.auth",  # accounts (billion_songs.web.accounts)
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "billion_songs.web.songs",
    "billion_songs.web.accounts",
]

# Django's stock middleware, with hooks that run on the event loop under ASGI (see
# config/middleware.py). None reads the session or the user unless a view does, so a
# song page gets no Set-Cookie and no Vary: Cookie.
MIDDLEWARE = [
    "billion_songs.web.config.middleware.SecurityMiddleware",
    "billion_songs.web.config.middleware.SessionMiddleware",
    "billion_songs.web.config.middleware.CommonMiddleware",
    "billion_songs.web.config.middleware.CsrfViewMiddleware",
    "billion_songs.web.config.middleware.AuthenticationMiddleware",
    "billion_songs.web.config.middleware.MessageMiddleware",
    "billion_songs.web.config.middleware.XFrameOptionsMiddleware",
]
# Messages ("Welcome!", errors after a vote without JavaScript) live in a signed cookie:
# no session read or write on the event loop, and untouched unless a view adds one.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

ROOT_URLCONF = "billion_songs.web.config.urls"
ASGI_APPLICATION = "billion_songs.web.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [WEB_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # Context processors run only for templates rendered *with* a request: the
            # account pages, the private /me fragment, the admin. Song pages and charts
            # are rendered without one (pages.py, ChartView), so they cannot depend on
            # who asks; tests check their bytes for anonymous and signed-in visitors.
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["billion_songs.web.songs.templatetags.inline_static"],
        },
    }
]

# SQLite in WAL mode in the data dir by default; DATABASE_URL selects PostgreSQL.
_database_url = env_str("DATABASE_URL")
DATABASES = {
    "default": parse_database_url(_database_url) if _database_url else sqlite_database(DATA_DIR / "billion-songs.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The Django cache holds rendered song pages (a stored song never changes, so entries
# never go stale). Local memory per process by default; REDIS_URL shares it (issue 6).
_redis_url = env_str("REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}
        if _redis_url
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": env_int("BILLION_SONGS_PAGE_CACHE_ENTRIES", 5000)},
        }
    )
}

# --- Accounts ---------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = ["billion_songs.web.accounts.backends.ThrottledModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:profile"  # when the sign-in form carries no (safe) ?next=
LOGOUT_REDIRECT_URL = "/"
ADMIN_PATH = env_str("BILLION_SONGS_ADMIN_PATH", "admin/")
SIGNIN_FAILURES_PER_ACCOUNT = env_int("BILLION_SONGS_SIGNIN_FAILURES", 5)  # per (address, username) per window
SIGNIN_FAILURES_PER_ADDRESS = env_int("BILLION_SONGS_SIGNIN_FAILURES_PER_ADDRESS", 30)  # per address per window
SIGNIN_FAILURE_WINDOW = env_int("BILLION_SONGS_SIGNIN_WINDOW", 15 * 60)  # seconds from the first failure
SIGNUPS_PER_ADDRESS_PER_HOUR = env_int("BILLION_SONGS_SIGNUPS_PER_HOUR", 10)
PASSWORD_RESETS_PER_ADDRESS_PER_HOUR = env_int("BILLION_SONGS_PASSWORD_RESETS_PER_HOUR", 5)

# Password-reset mail: printed on the console unless an SMTP host is configured.
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST")
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                        else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", True)  # STARTTLS on 587
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)  # implicit TLS on 465 (then set USE_TLS off)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "Billion Songs <noreply@localhost>")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# CSS and JS are inlined into pages (see templatetags/inline_static.py), so a page cached
# for months never points at an asset that a later deploy removed.
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [WEB_DIR / "static"]

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "billion_songs": {"handlers": ["console"], "level": env_str("BILLION_SONGS_LOG_LEVEL", "INFO")},
        "django": {"handlers": ["console"], "level": "WARNING"},
    },
}

# --- Songs -----------------------------------------------------------------------------
# Dotted path of a callable(model=..., threads=...) -> LyricsGenerator. The default is the
# real engine; `billion_songs.web.songs.generation.fake_generator` runs the site without
# a model (template work, tests, benchmarks of the web layer alone).
SONG_GENERATOR_FACTORY = env_str("BILLION_SONGS_GENERATOR_FACTORY", "billion_songs.core.loader.load_generator")
SONG_GENERATOR_MODEL = env_str("BILLION_SONGS_MODEL") or None  # None: the embedded default model
SONG_GENERATOR_THREADS = env_int("BILLION_SONGS_THREADS", 0) or None  # None: the engine decides
FAKE_GENERATOR_LINE_DELAY = env_float("BILLION_SONGS_FAKE_LINE_DELAY", 0.0)  # seconds per streamed line

SONG_GENERATIONS_AT_ONCE = env_int("BILLION_SONGS_GENERATIONS_AT_ONCE", 2)  # visitors' new ids written together

SONG_POOL_TARGET = env_int("BILLION_SONGS_POOL_TARGET", 50_000)  # pooled songs Make Random draws from
SONG_POOL_SERVES = env_int("BILLION_SONGS_POOL_SERVES", 10)  # times one pooled song is served before it leaves
SONG_POOL_BATCH = env_int("BILLION_SONGS_POOL_BATCH", 8)  # ids per generate() call of the filler
SONG_POOL_FILL = env_bool("BILLION_SONGS_POOL_FILL", True)  # run the background filler thread
RANDOM_VOTED_SHARE = env_float("BILLION_SONGS_RANDOM_VOTED_SHARE", 0.25)  # Make Random -> a voted-up song
RANDOM_VOTED_REFRESH = env_float("BILLION_SONGS_RANDOM_VOTED_REFRESH", 60.0)  # seconds between re-reading scores
RANDOM_VOTED_LIMIT = env_int("BILLION_SONGS_RANDOM_VOTED_LIMIT", 1000)  # best-scored songs to draw from

# A stored song never changes: browsers keep its page for SONG_BROWSER_MAX_AGE, shared
# caches (a CDN, which can be purged if a song is ever hidden) for SONG_SHARED_MAX_AGE.
SONG_BROWSER_MAX_AGE = env_int("BILLION_SONGS_BROWSER_MAX_AGE", 30 * 24 * 3600)
SONG_SHARED_MAX_AGE = env_int("BILLION_SONGS_SHARED_MAX_AGE", 365 * 24 * 3600)
# Part of every page-cache key: bump it (or deploy a new package version) to drop
# rendered pages after a template change.
SONG_PAGE_CACHE_VERSION = env_str("BILLION_SONGS_PAGE_CACHE_VERSION", "2")
# A removed (hidden) song's page is kept only briefly: a moderator may undo the hiding.
SONG_REMOVED_MAX_AGE = env_int("BILLION_SONGS_REMOVED_MAX_AGE", 300)

# --- Votes, charts, title suggestions -------------------------------------------------------
CHART_CACHE_SECONDS = env_int("BILLION_SONGS_CHART_CACHE_SECONDS", 30)  # server and public caches; 0: none
TITLE_SUGGESTION_MAX_LENGTH = 80  # characters, after whitespace is collapsed (the column's size)
TITLE_SUGGESTIONS_PER_HOUR = env_int("BILLION_SONGS_TITLE_SUGGESTIONS_PER_HOUR", 10)  # per visitor
