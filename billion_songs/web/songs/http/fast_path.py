"""Make Random answered before Django: the hottest and simplest request is a redirect to
an id taken from the in-memory pool. `billion-songs serve`'s ASGI application
(config/asgi.py) answers it here when the pool can answer without the database, narrowed
(`/random?mood=sad`) or not; every other request, and Make Random when the pool has no
such song, the voted-up snapshot needs a refresh or the query string names an unknown
genre or mood (a 400 page), goes through Django as usual (`RandomView`), and so does the
first Make Random, whose redirect headers the fast path then sends. Measured with
bench/bench_web.py: the Django request cycle costs a few milliseconds of CPU per request,
which at 50 concurrent connections puts p99 far above 10 ms.

The paths come from the URL configuration (`songs:home`, `songs:random`, `songs:detail`),
so this answers exactly where Django's `RandomView` would.
"""

from __future__ import annotations

from functools import cache
from urllib.parse import parse_qsl

from django.conf import settings
from django.urls import reverse

from billion_songs.web.songs.data import tags
from billion_songs.web.songs.runtime import web as runtime

# Headers of Django's redirect that belong to one request and are never replayed.
_PER_REQUEST = {b"location", b"set-cookie", b"date", b"server", b"vary"}


@cache
def random_paths() -> frozenset[str]:
    """The paths Make Random answers on (read once from the URL configuration)."""
    return frozenset((reverse("songs:home"), reverse("songs:random")))


@cache
def _detail_prefix() -> str:
    """The song page's path up to its id ("/song/"), read once from the URL configuration:
    reverse() on every redirect would cost a good part of the fast path's time."""
    path = reverse("songs:detail", args=[0])
    assert path.endswith("0"), path
    return path[:-1]


def detail_location(song_id: int) -> bytes:
    return f"{_detail_prefix()}{song_id}".encode()


def https_only() -> bool:
    """With an https site (SECURE_SSL_REDIRECT, HSTS) a plain-http request gets Django's
    redirect to https, and only a secure one may be answered here."""
    return bool(settings.SECURE_SSL_REDIRECT or settings.SECURE_HSTS_SECONDS)


def secure_enough(scope, https_required: bool) -> bool:
    # uvicorn sets scope["scheme"] from X-Forwarded-Proto only for trusted proxies
    # (server.py passes BILLION_SONGS_TRUSTED_PROXIES as forwarded_allow_ips).
    return not https_required or scope.get("scheme") == "https"


def narrowing(query_string: bytes) -> tags.Narrowing | None:
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


def random_pick(scope) -> int | None:
    """The song id to redirect to, or None when Django should answer."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or scope["path"] not in random_paths():
        return None
    current = runtime.peek()
    if current is None:
        return None
    narrowed = narrowing(scope.get("query_string", b""))
    return current.random.pick_now(narrowed) if narrowed is not None else None


def with_fast_random(django_application):
    """The ASGI application: Make Random here when it can be, Django otherwise. The fast
    path sends the headers Django sends with the redirect (security headers included),
    taken from the first Make Random that Django answers: until then, Django answers all.
    On an https site only https requests are answered here (plain http gets Django's
    redirect to https), and the headers are taken from an https answer (HSTS included)."""
    https_required = https_only()
    headers: list[tuple[bytes, bytes]] = []  # from a secure request when https is required: HSTS included

    def capturing(send):
        async def capture(message):
            if message["type"] == "http.response.start" and message["status"] == 302 and not headers:
                headers.extend((name, value) for name, value in message.get("headers", [])
                               if name.lower() not in _PER_REQUEST)
            await send(message)
        return capture

    async def application(scope, receive, send):
        eligible = scope["type"] == "http" and secure_enough(scope, https_required)
        song_id = random_pick(scope) if eligible and headers else None
        if song_id is not None:
            location = detail_location(song_id)
            await send({"type": "http.response.start", "status": 302, "headers": [(b"location", location), *headers]})
            await send({"type": "http.response.body", "body": b""})
        elif eligible and not headers and scope["path"] in random_paths():
            await django_application(scope, receive, capturing(send))
        else:
            await django_application(scope, receive, send)

    return application
