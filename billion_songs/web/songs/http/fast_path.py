"""Make Random and cached song pages answered before Django.

Make Random: the hottest and simplest request is a redirect to
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

Stored song pages (`GET /song/<id>`, `GET /api/songs/<id>`): a page in the page cache
(page_cache.py) is the same bytes for every visitor, so it is answered here, 200 or 304
(If-None-Match, weak ETags included) with its ETag, and with the headers Django sent with
the first such answer (Cache-Control, security headers and CSP; never Set-Cookie or
Vary): the same response, without Django's middleware and view. Measured with
bench/bench_flood.py: during a flood of never-seen ids, a stored page answered through
Django waited behind the flood's requests on the event loop. Only what Django would
answer the same way for every visitor comes here: a Host that ALLOWED_HOSTS accepts
(else Django's 400), the scheme as Django reads it (X-Forwarded-Proto only from a trusted
proxy), https only on an https site; a page not cached, a removed song (410), HEAD, or
anything unusual goes through Django as before.

Refusals (http/admission.py): a never-seen id that admission control would refuse this
visitor (`Flights.foresee`: on one machine a look at the process's counts, scaled out one
read-only script on the event loop's Redis client) is answered 429/503 here, the same
body, Retry-After and headers as Django's, once the database says the id is not stored:
a flood of new ids from one script or many is turned away without a Django request
cycle each, and a visitor back before the Retry-After it was given waits for a slot
first (refusal_pace.py), so that a script asking again at once asks at a bounded pace.
An id that would be admitted goes through Django, and so does any visitor when Redis or
the database cannot say. Requests for pages not in the page cache take
turns for the admission check (SONG_NEW_CHECKED_AT_ONCE per process, `turns` below), and
their database looks go together, one query for all the ids waiting (stored_looks.py): a
stored page's reader finds few of them ahead of it on the event loop.
"""

from __future__ import annotations

import asyncio
from functools import cache
from urllib.parse import parse_qsl

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.urls import reverse

from billion_songs.core.song import InvalidSongId, parse_song_id
from billion_songs.web.accounts.throttle import address_bucket
from billion_songs.web.config.middleware import forwarded_client, from_trusted_proxy, trusted_networks
from billion_songs.web.songs.data import tags
from billion_songs.web.songs.data.per_loop import PerLoop
from billion_songs.web.songs.http import admission, page_cache, refusal_pace, stored_looks
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


# --- Cached song pages ---------------------------------------------------------------------

# Seconds a refusal waits for Django to answer its process's first refusal of the kind,
# whose headers it then sends (else it goes to Django too, and so do the next ones).
_LESSON_WAIT = 1.0

# Headers of Django's refusal that are this answer's own (or one request's).
_REFUSAL_OWN = {b"content-length", b"content-type", b"retry-after", b"set-cookie", b"date", b"server", b"vary"}

# Headers of Django's page answer that are this answer's own (sent from the page here) or
# belong to one request; Set-Cookie and Vary never go with a public page anyway.
_PAGE_OWN = {b"content-length", b"content-type", b"etag", b"set-cookie", b"date", b"server", b"vary"}


@cache
def page_prefixes() -> tuple[tuple[str, str], ...]:
    """(kind, path up to the id): the song page ("html") and its JSON ("json"), read once
    from the URL configuration."""
    prefixes = []
    for kind, name in (("html", "songs:detail"), ("json", "songs:api_detail")):
        path = reverse(name, args=[0])
        assert path.endswith("0"), path
        prefixes.append((kind, path[:-1]))
    return tuple(prefixes)


def page_target(path: str) -> tuple[str, int] | None:
    """(kind, song id) when `path` is a song page's, spelled as the URL converter takes
    it (digits, no leading zero, in range); None otherwise."""
    for kind, prefix in page_prefixes():
        if path.startswith(prefix):
            digits = path[len(prefix):]
            if not (0 < len(digits) <= 20 and digits.isascii() and digits.isdigit()):
                return None
            try:
                return kind, parse_song_id(digits)
            except InvalidSongId:
                return None
    return None


class Origin:
    """The site URL of a request (page_cache.site_url) as Django would read it, from the
    ASGI scope alone; None where Django might answer otherwise (a Host that
    ALLOWED_HOSTS refuses, X-Forwarded-Host in use, PREPEND_WWW): Django answers those."""

    def __init__(self):
        self.site_url = settings.SITE_URL
        self.allowed_hosts = settings.ALLOWED_HOSTS or ([".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG
                                                        else [])
        self.usable = not settings.PREPEND_WWW
        self.forwarded_host = settings.USE_X_FORWARDED_HOST
        self.proxy_ssl = None
        if settings.SECURE_PROXY_SSL_HEADER:
            meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
            if meta_name.startswith("HTTP_"):
                self.proxy_ssl = (meta_name[5:].lower().replace("_", "-").encode("latin1"), secure_value)
            else:
                self.usable = False
        self.networks = trusted_networks(settings.TRUSTED_PROXIES)

    def client(self, scope, headers: dict[bytes, str]) -> str:
        """Who admission control counts (http/admission.py `admission_client`): REMOTE_ADDR
        as ClientAddressMiddleware sets it, an IPv6 address per /64."""
        client = scope.get("client")
        peer = client[0] if client else ""
        if self.networks and from_trusted_proxy(peer, self.networks):
            peer = forwarded_client(peer, headers.get(b"x-forwarded-for", ""), self.networks)
        return address_bucket(peer)

    def scheme_and_site(self, scope, headers: dict[bytes, str]) -> tuple[str, str] | None:
        if not self.usable or (self.forwarded_host and b"x-forwarded-host" in headers):
            return None
        host = headers.get(b"host")
        if not host:
            return None
        domain, _port = split_domain_port(host)
        if not domain or not validate_host(domain, self.allowed_hosts):
            return None
        scheme = scope.get("scheme") or "http"
        if self.proxy_ssl is not None:
            name, secure_value = self.proxy_ssl
            value = headers.get(name)
            client = scope.get("client")
            peer = client[0] if client else ""
            # ClientAddressMiddleware drops the header from anyone but a trusted proxy.
            if value is not None and (not self.networks or from_trusted_proxy(peer, self.networks)):
                scheme = "https" if value.split(",", 1)[0].strip() == secure_value else "http"
        return scheme, self.site_url or f"{scheme}://{host}"


def request_headers(scope) -> dict[bytes, str]:
    """The request's headers as Django's META holds them: names with an underscore
    dropped, repeated ones joined with commas."""
    headers: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        if b"_" in name:
            continue
        name = name.lower()
        text = value.decode("latin1")
        headers[name] = f"{headers[name]},{text}" if name in headers else text
    return headers


def with_fast_random(django_application):
    """The ASGI application: Make Random and cached song pages here when they can be,
    Django otherwise. For Make Random the fast
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

    origin = Origin()
    page_headers: dict[tuple[str, int], list[tuple[bytes, bytes]]] = {}  # (kind, 200 or 304) -> Django's

    def capturing_page(send, kind: str):
        async def capture(message):
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                sent = message.get("headers", [])
                names = {name.lower() for name, _ in sent}
                cache_control = next((value for name, value in sent if name.lower() == b"cache-control"), b"")
                # Only a stored page's answer: public, with its ETag, no cookie.
                if b"etag" in names and b"set-cookie" not in names and b"public" in cache_control:
                    page_headers.setdefault((kind, message["status"]), [
                        (name, value) for name, value in sent if name.lower() not in _PAGE_OWN])
            await send(message)
        return capture

    refusal_headers: dict[tuple[str, int], list[tuple[bytes, bytes]]] = {}  # (kind, 429 or 503) -> Django's

    def capturing_refusal(send, kind: str):
        async def capture(message):
            if message["type"] == "http.response.start" and message["status"] in (429, 503):
                sent = message.get("headers", [])
                if any(name.lower() == b"retry-after" for name, _ in sent):
                    refusal_headers.setdefault((kind, message["status"]), [
                        (name, value) for name, value in sent if name.lower() not in _REFUSAL_OWN])
            await send(message)
        return capture

    def telling(send, client: str):
        """`send`, telling the pace (refusal_pace.py) of a 429/503 that Django answers."""
        async def tell(message):
            if message["type"] == "http.response.start" and message["status"] in (429, 503):
                retry_after = next((value for name, value in message.get("headers", [])
                                    if name.lower() == b"retry-after"), b"")
                if retry_after.isdigit():
                    refusal_pace.pace().told(client, int(retry_after))
            await send(message)
        return tell

    # The turns of this process's requests for pages not in the page cache
    # (SONG_NEW_CHECKED_AT_ONCE at once) for the admission check. A flood of new ids, all
    # checked at once, filled the event loop and the executor threads (the GIL) with its
    # checks, and a stored page waited behind them all (bench/bench_flood.py --scaled: p99
    # 10-18 ms against 1.5 quiet); in turns, only a few are ahead of it. A waiting turn
    # costs no CPU.
    turns = PerLoop(lambda: asyncio.Semaphore(max(1, settings.SONG_NEW_CHECKED_AT_ONCE)))

    lessons: dict[tuple[str, int], asyncio.Event] = {}  # refusals Django is answering for the first time

    async def learned_refusal(key: tuple[str, int]) -> list[tuple[bytes, bytes]] | None:
        """The headers of Django's refusal `key`, waiting a moment for them if Django is
        answering its first such refusal now: a cold process hit by a flood sends one
        refusal of each kind through Django, not every one that comes before the first
        is answered. Should Django admit that visitor after all (its visit found room
        that the look did not), no headers are learned: the next refusal teaches,
        rather than every one waiting going to Django meanwhile."""
        while key not in refusal_headers and (lesson := lessons.get(key)) is not None:
            try:
                await asyncio.wait_for(lesson.wait(), _LESSON_WAIT)
            except TimeoutError:  # Django is slow to answer that one (it admitted the visitor after all):
                if lessons.get(key) is lesson:  # the next ones do not wait for it
                    del lessons[key]
                break
        return refusal_headers.get(key)

    async def not_cached(scope, receive, send, kind: str, song_id: int, request: dict[bytes, str]) -> None:
        """A song page not in the page cache: a refusal answered here when admission
        control would refuse a new song and the id is not stored; else Django (outside
        the turn: an admitted visitor's page streams while the song is written)."""
        client = origin.client(scope, request)
        async with turns.get():
            current = runtime.peek()
            refused = await current.flights.foresee(song_id, client=client) if current else None
            if refused is not None:
                status = admission.STATUS[refused.reason]
                replayed = await learned_refusal((kind, status))
        if refused is not None and replayed is not None:
            # Outside the turn: the looks of the requests waiting go to the database together.
            if await stored_looks.looks().stored(song_id) is False:
                # A visitor back before its Retry-After waits for a slot (refusal_pace.py).
                await refusal_pace.pace().refusing(client, refused.retry_after)
                body = admission.refused_body(refused, song_id=song_id, kind=kind)
                await send({"type": "http.response.start", "status": status, "headers": [
                    (b"content-type", admission.CONTENT_TYPES[kind].encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(refused.retry_after).encode()), *replayed]})
                await send({"type": "http.response.body", "body": body})
                return
        send = telling(send, client)  # Django may refuse too (its visit is the one that counts)
        if refused is None:
            return await django_application(scope, receive, capturing_page(send, kind))
        if replayed is not None or (kind, status) in lessons:
            return await django_application(scope, receive, capturing_refusal(capturing_page(send, kind), kind))
        lesson = lessons[(kind, status)] = asyncio.Event()

        async def teaching(message):  # the headers are captured before this is sent
            if message["type"] == "http.response.start":
                if lessons.get((kind, status)) is lesson:  # learned, or admitted after all: over
                    del lessons[(kind, status)]
                lesson.set()
            await send(message)

        try:
            await django_application(scope, receive, capturing_refusal(capturing_page(teaching, kind), kind))
        finally:
            lesson.set()
            if lessons.get((kind, status)) is lesson:
                del lessons[(kind, status)]

    async def song_page(scope, receive, send, target: tuple[str, int]) -> None:
        kind, song_id = target
        request = request_headers(scope)
        found = origin.scheme_and_site(scope, request)
        if found is None or (https_required and found[0] != "https"):
            return await django_application(scope, receive, send)
        page = await page_cache.apage_cached(kind=kind, song_id=song_id, site_url=found[1])
        if page is None:
            return await not_cached(scope, receive, send, kind, song_id, request)
        if page.status != 200:
            return await django_application(scope, receive, send)
        if_none_match = request.get(b"if-none-match")
        status = 304 if if_none_match and page_cache.etag_matches(if_none_match, page.etag) else 200
        replayed = page_headers.get((kind, status))
        if replayed is None:  # Django answers, and the next one is answered here
            return await django_application(scope, receive, capturing_page(send, kind))
        body = page.body if status == 200 else b""
        start = [(b"content-length", str(len(body)).encode()), (b"etag", page.etag.encode()), *replayed]
        if status == 200:
            start.insert(0, (b"content-type", page.content_type.encode()))
        await send({"type": "http.response.start", "status": status, "headers": start})
        await send({"type": "http.response.body", "body": body})

    async def application(scope, receive, send):
        eligible = scope["type"] == "http" and secure_enough(scope, https_required)
        if eligible and scope["method"] == "GET":
            target = page_target(scope["path"])
            if target is not None:
                return await song_page(scope, receive, send, target)
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
