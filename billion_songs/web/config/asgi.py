"""The ASGI application that `billion-songs serve` runs under uvicorn.

Make Random is the hottest and simplest request: a redirect to an id taken from the
in-memory pool. It is answered here, before Django, when the pool can answer without the
database, narrowed (`/random?mood=sad`) or not; every other request, and Make Random when
the pool has no such song, the voted-up snapshot needs a refresh or the query string
names an unknown genre or mood (a 400 page), goes through Django as usual (`RandomView`).
Measured with bench/bench_web.py: the Django request cycle costs a few milliseconds of CPU
per request, which at 50 concurrent connections puts p99 far above 10 ms.
"""

import os
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billion_songs.web.config.settings.production")
django_application = get_asgi_application()

from billion_songs.web.songs import runtime, tags  # noqa: E402  (needs Django set up)

RANDOM_PATHS = ("/", "/random")
# The same headers Django's RandomView and security middleware send with the redirect.
_REDIRECT_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", b"0"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def _fast_path_allowed() -> bool:
    # HTTPS redirects and HSTS headers are Django's job: with those on, take no shortcut.
    return not settings.SECURE_SSL_REDIRECT and not settings.SECURE_HSTS_SECONDS


def _narrowing(query_string: bytes) -> tags.Narrowing | None:
    """`?genre=...&mood=...` read as RandomView reads it (the last value of each, UTF-8,
    case forgiven); None when Django should answer: an unknown value (its 400 page), or
    bytes that are not plain percent-encoded ASCII."""
    if not query_string:
        return tags.ANY
    try:
        params = dict(parse_qsl(query_string.decode("ascii"), keep_blank_values=True))  # the last value wins
        return tags.narrowing_from(params.get)
    except (UnicodeDecodeError, ValueError):  # UnknownTag is a ValueError
        return None


def _fast_random_pick(scope) -> int | None:
    if not FAST_PATH or scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or scope["path"] not in RANDOM_PATHS:
        return None
    current = runtime.peek()
    if current is None:
        return None
    narrowing = _narrowing(scope.get("query_string", b""))
    return current.random.pick_now(narrowing) if narrowing is not None else None


FAST_PATH = _fast_path_allowed()


async def application(scope, receive, send):
    song_id = _fast_random_pick(scope)
    if song_id is None:
        await django_application(scope, receive, send)
        return
    headers = [(b"location", f"/song/{song_id}".encode()), *_REDIRECT_HEADERS]
    await send({"type": "http.response.start", "status": 302, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
