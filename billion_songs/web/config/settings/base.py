"""Settings shared by every environment; everything that differs between machines comes
from the environment (cookiecutter-django style). local.py, production.py and test.py
start from here."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import redis

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
# Reverse proxies whose X-Forwarded-For names the visitor ("10.0.0.5, 10.1.0.0/16"):
# addresses or networks. Empty: the TCP peer is the visitor (config/middleware.py).
TRUSTED_PROXIES = env_list("BILLION_SONGS_TRUSTED_PROXIES", [])

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
    # First, so it sees every response last: no cookie or Vary: Cookie on public responses.
    "billion_songs.web.config.middleware.PublicResponseMiddleware",
    # Before anything reads REMOTE_ADDR or the scheme: the visitor's address behind a
    # trusted proxy (TRUSTED_PROXIES), forwarded headers dropped from anyone else.
    "billion_songs.web.config.middleware.ClientAddressMiddleware",
    "billion_songs.web.config.middleware.SecurityMiddleware",
    "billion_songs.web.config.middleware.SecurityHeadersMiddleware",  # CSP, Permissions-Policy
    "billion_songs.web.config.middleware.SessionMiddleware",
    "billion_songs.web.config.middleware.CommonMiddleware",
    "billion_songs.web.config.middleware.CsrfViewMiddleware",
    "billion_songs.web.config.middleware.AuthenticationMiddleware",
    "billion_songs.web.config.middleware.MessageMiddleware",
    "billion_songs.web.config.middleware.XFrameOptionsMiddleware",
    # Last, next to the views: a view that finds the database unreachable answers 503.
    "billion_songs.web.config.middleware.DatabaseUnavailableMiddleware",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server fails a request in seconds (a 503 page) instead of after the
    # system's TCP timeout; ?connect_timeout=N in DATABASE_URL overrides it.
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
# CONN_MAX_AGE stays Django's 0 (persistent connections do not suit ASGI): a request
# closes its connection when done, or, on PostgreSQL in production, hands it back to a
# checked pool (production.py), so a connection broken by a database restart is never
# reused and the site recovers by itself (tests/web/test_database_down.py).
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis, when REDIS_URL is set: the Django cache, the shared random pool, vote counts,
# single-flight locks and the Celery broker, shared by every web process and worker.
REDIS_URL = env_str("REDIS_URL")

# The Django cache holds rendered song pages (a stored song never changes, so entries
# never go stale). Local memory per process by default; Redis with REDIS_URL. A Redis
# outage must not break pages: cache errors count as misses (django-redis's
# IGNORE_EXCEPTIONS) and pages are rendered from the database meanwhile.
CACHES = {
    "default": (
        {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2,
                        # Given, not looked up in site-packages per new connection
                        # (songs/data/redis_clients.py says why).
                        "CONNECTION_POOL_KWARGS": {"driver_info": redis.DriverInfo(lib_version=redis.__version__)}},
        }
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": env_int("BILLION_SONGS_PAGE_CACHE_ENTRIES", 5000)},
        }
    )
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False  # an outage is logged once, by shared/redis.py's breaker
# One redis.Redis client per process for the cache, not one per request (Django builds its
# cache objects per request context under ASGI): config/redis_clients.py.
DJANGO_REDIS_CONNECTION_FACTORY = "billion_songs.web.config.redis_clients.SharedClientFactory"

# Sessions stay in the database (a sign-in survives a Redis restart). With a cache that
# every web process shares (REDIS_URL), they are read through it (Django's cached_db):
# a signed-in request, a vote above all, reads its session from Redis instead of the
# database; a miss (Redis restarted or unreachable: errors count as misses) reads the
# database. Signing out deletes both copies. Without Redis each process's cache is its
# own, and a session deleted in one would live on in another's: there, database only.
SESSION_ENGINE = ("django.contrib.sessions.backends.cached_db" if REDIS_URL
                  else "django.contrib.sessions.backends.db")

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

# Content-Security-Policy (config/middleware.py): same origin only, no 'unsafe-inline';
# the script and styles the templates inline are allowed by their sha256 hashes, computed
# at start-up from these static files (found by the staticfiles finders, as
# {% inline_static %} finds them) and from the literal <style> texts of the streamed page
# of a new song: the writing notice hidden at the end (songs/writing_end.html,
# writing_broken.html) and a discarded draft hidden when the writer starts again
# (songs/http/pages.py, one text per attempt: the first five). A template that inlines
# something else must add it here (tests/web/config/ check every page, and Chromium).
CONTENT_SECURITY_POLICY = env_bool("BILLION_SONGS_CSP", True)
CSP_INLINE_SCRIPTS = ["songs/song.js"]
CSP_INLINE_STYLES = ["songs/site.css"]
CSP_INLINE_STYLE_TEXTS = [".writing{display:none}"]
# Browser features the site never uses, off for it and anything it could be made to load.
PERMISSIONS_POLICY = env_str(
    "BILLION_SONGS_PERMISSIONS_POLICY",
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        # propagate: False, or a Celery worker (whose root logger has a handler) prints each line twice
        "billion_songs": {"handlers": ["console"], "level": env_str("BILLION_SONGS_LOG_LEVEL", "INFO"),
                          "propagate": False},
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
FAKE_GENERATOR_SONG_DELAY = env_float("BILLION_SONGS_FAKE_SONG_DELAY", 0.0)  # seconds per song of a batch

SONG_GENERATIONS_AT_ONCE = env_int("BILLION_SONGS_GENERATIONS_AT_ONCE", 2)  # visitors' new ids written together
# Admission control for never-seen ids (songs/generation/admission.py): past these, a
# visitor gets a 429 (per client) or 503 (site-wide) page with Retry-After instead of a
# place in the queue. Stored songs are never limited.
SONG_NEW_PER_CLIENT = env_int("BILLION_SONGS_NEW_SONGS_PER_CLIENT", 4)  # distinct new ids one address waits on
SONG_NEW_QUEUE = env_int("BILLION_SONGS_NEW_SONGS_QUEUE", 32)  # new songs queued for a writer, site-wide
SONG_NEW_RETRY_AFTER = env_int("BILLION_SONGS_NEW_SONGS_RETRY_AFTER", 10)  # seconds, until a song's pace is known
# Requests for song pages not in the page cache that one web process checks against
# admission control at once (the ASGI front, songs/http/fast_path.py); the others wait
# their turn without using the CPU, so that a flood of new ids cannot crowd readers of
# stored pages off the event loop (bench/bench_flood.py).
SONG_NEW_CHECKED_AT_ONCE = env_int("BILLION_SONGS_NEW_SONGS_CHECKED_AT_ONCE", 1)
# A visitor refused and back before its Retry-After gets its next refusal from the ASGI
# front in a slot (songs/http/refusal_pace.py): at most this many such refusals a second per
# web process (0: no pacing), at most _HELD waiting at once (past it, answered at once). A
# script that asks again the moment it is refused then asks at this pace, not as fast as
# the machine can refuse it (bench/bench_flood.py --scaled: at 25 the stored pages others
# read kept their p99 within 2x quiet, at 100 they did not). The longest wait, _HELD / this
# (8 s), falls only on a visitor that came back before its Retry-After.
SONG_EARLY_REFUSALS_PER_SECOND = env_float("BILLION_SONGS_EARLY_REFUSALS_PER_SECOND", 25.0)
SONG_EARLY_REFUSALS_HELD = env_int("BILLION_SONGS_EARLY_REFUSALS_HELD", 200)
SONG_FLIGHT_POLL_MAX = env_float("BILLION_SONGS_FLIGHT_POLL_MAX", 16.0)  # seconds between a waiting reader's looks (scaled)
# Seconds between a streaming page's looks for its song's new text (songs/generation/
# flights.py): what the writer wrote meanwhile goes out as one piece, so a page costs its
# web process at most one look per interval whatever the model's pace (a line at a time
# with the songwriting decoder, a token at a time with the "free" one). 0: every piece as
# it comes.
SONG_STREAM_INTERVAL = env_float("BILLION_SONGS_STREAM_INTERVAL", 0.2)
# Connections and requests one web process serves at once (uvicorn's limit_concurrency):
# past it, uvicorn answers 503 at once instead of letting a flood of open connections
# (streamed pages of new songs stay open while they are written) take all memory. 0: no limit.
WEB_LIMIT_CONCURRENCY = env_int("BILLION_SONGS_LIMIT_CONCURRENCY", 1000)

SONG_POOL_TARGET = env_int("BILLION_SONGS_POOL_TARGET", 50_000)  # pooled songs Make Random draws from
SONG_POOL_SERVES = env_int("BILLION_SONGS_POOL_SERVES", 10)  # times one pooled song is served before it leaves
SONG_POOL_BATCH = env_int("BILLION_SONGS_POOL_BATCH", 8)  # ids per generate() call of the filler
SONG_POOL_FILL = env_bool("BILLION_SONGS_POOL_FILL", True)  # run the background filler thread
RANDOM_VOTED_SHARE = env_float("BILLION_SONGS_RANDOM_VOTED_SHARE", 0.25)  # Make Random -> a voted-up song
RANDOM_VOTED_REFRESH = env_float("BILLION_SONGS_RANDOM_VOTED_REFRESH", 60.0)  # seconds between re-reading scores
RANDOM_VOTED_LIMIT = env_int("BILLION_SONGS_RANDOM_VOTED_LIMIT", 1000)  # best-scored songs to draw from

# A stored song never changes, but a moderator may hide it: browsers keep its page
# SONG_BROWSER_MAX_AGE seconds and shared caches (a CDN) SONG_SHARED_MAX_AGE, then ask
# again with If-None-Match, which costs a 304 from the page cache.
SONG_BROWSER_MAX_AGE = env_int("BILLION_SONGS_BROWSER_MAX_AGE", 300)
SONG_SHARED_MAX_AGE = env_int("BILLION_SONGS_SHARED_MAX_AGE", 600)
# Hiding a song purges it from a CDN through this hook (songs/http/cdn_purge.py): a URL
# template ({url}, {path}, {id}) requested with SONG_CDN_PURGE_METHOD, or the dotted path
# of a callable; empty: none.
SONG_CDN_PURGE = env_str("BILLION_SONGS_CDN_PURGE", "")
SONG_CDN_PURGE_METHOD = env_str("BILLION_SONGS_CDN_PURGE_METHOD", "PURGE")
# Part of every page-cache key: bump it (or deploy a new package version) to drop
# rendered pages after a template change.
SONG_PAGE_CACHE_VERSION = env_str("BILLION_SONGS_PAGE_CACHE_VERSION", "4")  # 4: the tune (player, sheet music)
# A removed (hidden) song's page is kept only briefly: a moderator may undo the hiding.
SONG_REMOVED_MAX_AGE = env_int("BILLION_SONGS_REMOVED_MAX_AGE", 300)
# Where the song pages' sheet-music renderer (abcjs, http/abcjs.py) is fetched from on
# first use: an npm registry, or a mirror of one.
NPM_REGISTRY = env_str("BILLION_SONGS_NPM_REGISTRY", "https://registry.npmjs.org")

# --- Votes, charts, title suggestions -------------------------------------------------------
CHART_CACHE_SECONDS = env_int("BILLION_SONGS_CHART_CACHE_SECONDS", 30)  # server and public caches; 0: none
TITLE_SUGGESTION_MAX_LENGTH = 80  # characters, after whitespace is collapsed (the column's size)
# Other listeners who must have voted on a suggestion before it shows beside the title.
TITLE_SUGGESTION_MIN_VOTERS = env_int("BILLION_SONGS_TITLE_SUGGESTION_MIN_VOTERS", 3)
# Threads per web process that run votes (songs/http/offload.py), each holding a database
# connection while it works: fewer than the connection pool's size (BILLION_SONGS_DB_POOL_MAX,
# 8), which the rest of the process shares. 4: with a vote one round trip to the database,
# more threads only took turns on the interpreter (bench/bench_scale.py --phases votes: 2,
# 3, 4 and 6 threads gave about the same rate, 6 the longest p99).
# 0: on Django's one thread for synchronous views.
SONG_VOTE_THREADS = env_int("BILLION_SONGS_VOTE_THREADS", 4)
TITLE_SUGGESTIONS_PER_HOUR = env_int("BILLION_SONGS_TITLE_SUGGESTIONS_PER_HOUR", 10)  # per visitor

# --- Scale-out: Celery workers ----------------------------------------------------------
# With workers, web processes never load a model: `billion-songs worker` processes write
# the songs visitors ask for and keep the shared pool filled. On by default with REDIS_URL.
SONG_WORKERS = env_bool("BILLION_SONGS_WORKERS", bool(REDIS_URL))
SONG_FLIGHT_LEASE = env_float("BILLION_SONGS_FLIGHT_LEASE", 15.0)  # seconds a dead writer's lock outlives it
SONG_FLIGHT_PATIENCE = env_float("BILLION_SONGS_FLIGHT_PATIENCE", 300.0)  # seconds a visitor waits on silence
SONG_POOL_TOPUP_INTERVAL = env_float("BILLION_SONGS_POOL_TOPUP_INTERVAL", 2.0)  # seconds between pool checks

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
CELERY_TASK_IGNORE_RESULT = True  # results go to the database and the flight streams
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged when it is done, not when it starts: a worker killed mid-song
# or mid-batch leaves its tasks unacknowledged, and the broker hands them to another
# worker after the visibility timeout (checked every `unacked_restore_interval`).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # a busy worker does not hoard queued songs
# A broker outage of any length is waited out: the worker reconnects with back-off, for
# ever (Celery's default gives up after 100 tries). Redis (the default broker) goes through
# runtime/broker.py, which keeps kombu from crashing the worker when the broker goes away
# mid-task; RabbitMQ (CELERY_BROKER_URL=amqp://...) needs no such help.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_TRANSPORT = ("billion_songs.web.songs.runtime.broker:Transport"
                           if CELERY_BROKER_URL.startswith("redis://") else None)
# Running tasks are not cancelled when the connection drops: a thread cannot be, and both
# tasks are idempotent, so a task the broker hands out again is finished once.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("BILLION_SONGS_TASK_VISIBILITY_TIMEOUT", 600),
    "unacked_restore_interval": env_int("BILLION_SONGS_TASK_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": 1,  # scan on every interval: the interval alone sets the pace
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
}
CELERY_TASK_ROUTES = {"songs.generate": {"queue": "songs"}, "songs.pool_batch": {"queue": "pool"}}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # Django's LOGGING above stays in charge
