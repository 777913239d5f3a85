"""Django's stock middleware without the thread hops under ASGI, and the site's own:
the client's address behind trusted proxies, security headers (CSP, Permissions-Policy),
no per-visitor headers on public responses, a 503 while the database is away.

Under ASGI, Django's `MiddlewareMixin` runs every `process_request` and `process_response`
in a worker thread (`sync_to_async`), two hops per middleware per request, which cost more
than the hooks themselves. The hooks of the middleware below do no I/O (the session and
the user are loaded lazily, only when a view asks), so they run on the event loop; the
one hook that can write to the database, saving a modified session, still goes to a
thread (a session only read stays on the event loop). Under WSGI (the test client) nothing changes.

`PublicResponseMiddleware`, first, keeps cookies and Vary: Cookie off public responses;
`ClientAddressMiddleware` sets REMOTE_ADDR to the visitor's address behind trusted proxies;
`SecurityHeadersMiddleware` adds Content-Security-Policy and Permissions-Policy;
`DatabaseUnavailableMiddleware`, at the end, answers 503 while the database is out of reach.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import threading
import time
from collections.abc import Sequence

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.middleware import clickjacking, common, csrf, security
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin

log = logging.getLogger(__name__)


class InlineHooks:
    async def __acall__(self, request):
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineHooks, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class AuthenticationMiddleware(InlineHooks, auth.AuthenticationMiddleware):
    pass  # sets a lazy request.user; the query runs only if a view reads it


class MessageMiddleware(InlineHooks, messages.MessageMiddleware):
    pass  # with CookieStorage (see settings): a cookie, read and written only when used


class XFrameOptionsMiddleware(InlineHooks, clickjacking.XFrameOptionsMiddleware):
    pass


class CsrfViewMiddleware(InlineHooks, csrf.CsrfViewMiddleware):
    # process_view is adapted by Django's handler itself, not by __acall__; a coroutine
    # keeps it on the event loop too (it reads cookies and the already-read body).
    async def process_view(self, request, callback, callback_args, callback_kwargs):
        return super().process_view(request, callback, callback_args, callback_kwargs)


class SessionMiddleware(sessions.SessionMiddleware):
    """Only a session to save goes to a thread. A session that was only read (a vote, the
    /me fragment: the signed-in user looked up) needs nothing from the stock hook but
    Vary: Cookie, or deleting the cookie of a session found empty; neither does I/O, so
    they run on the event loop, without a hop to a thread (under ASGI, Django starts an
    OS thread for the first thread-sensitive call of each request)."""

    async def __acall__(self, request):
        self.process_request(request)  # a lazy SessionStore: reads nothing yet
        response = await self.get_response(request)
        session = request.session
        if session.modified or (session.accessed and settings.SESSION_SAVE_EVERY_REQUEST):
            # Saving the session touches the database (or the cache): in a thread.
            return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
        if session.accessed:
            # Read, not modified: the stock hook patches Vary (and deletes the cookie of
            # a session that turned out empty); it saves nothing, so it runs here.
            return self.process_response(request, response)
        return response  # untouched session: the stock hook would do nothing either


# --- The client's address behind trusted proxies -------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """BILLION_SONGS_TRUSTED_PROXIES ("10.0.0.5, 10.1.0.0/16, fd00::/8") as networks."""
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
    except ValueError as error:
        raise ImproperlyConfigured(f"BILLION_SONGS_TRUSTED_PROXIES: {error}") from None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:443"
        text = text.split(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return ip.ipv4_mapped or ip if ip.version == 6 else ip


def _trusted(ip, networks: Sequence[Network]) -> bool:
    return ip is not None and any(ip in network for network in networks)


def from_trusted_proxy(peer: str, networks: Sequence[Network]) -> bool:
    """Whether the connection's peer address is one of the trusted proxies."""
    return _trusted(_address(peer), networks)


def forwarded_client(peer: str, forwarded_for: str, networks: Sequence[Network]) -> str:
    """The visitor's address: `peer` (the TCP peer), unless it is a trusted proxy; then the
    right-most X-Forwarded-For entry that is not a trusted proxy. Each proxy appends the
    address it got the request from, so entries to the left of the first untrusted one
    were written by the visitor and mean nothing; an entry that is not an address stops
    the walk at the last trusted hop."""
    ip = _address(peer)
    if not _trusted(ip, networks):
        return peer
    client = str(ip)
    for hop in reversed(forwarded_for.split(",")):
        hop_ip = _address(hop)
        if hop_ip is None:
            break
        client = str(hop_ip)
        if not _trusted(hop_ip, networks):
            break
    return client


class ClientAddressMiddleware(InlineHooks, MiddlewareMixin):
    """REMOTE_ADDR becomes the visitor's address (`forwarded_client`), which is all the
    rest of the site reads (the sign-in throttle, rate limits). The TCP peer stays in
    META["BILLION_SONGS_PEER_ADDR"]. With trusted proxies configured, the X-Forwarded-*
    headers of a request that did not come through one are dropped, so that a visitor who
    reaches the server directly cannot claim HTTPS (SECURE_PROXY_SSL_HEADER) either."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.networks = trusted_networks(settings.TRUSTED_PROXIES)

    def process_request(self, request):
        meta = request.META
        peer = meta.get("REMOTE_ADDR", "")
        meta["BILLION_SONGS_PEER_ADDR"] = peer
        if not self.networks:
            return None
        if from_trusted_proxy(peer, self.networks):
            meta["REMOTE_ADDR"] = forwarded_client(peer, meta.get("HTTP_X_FORWARDED_FOR", ""), self.networks)
        else:
            for header in ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST"):
                meta.pop(header, None)
        return None


# --- Security headers -------------------------------------------------------------------

def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _static_text(path: str) -> str:
    # Read exactly as templatetags/inline_static.py reads it (text mode, UTF-8), so the
    # hash is of the very characters inlined between <script> and </script>.
    found = finders.find(path)
    if not found:
        raise ImproperlyConfigured(f"CSP_INLINE_SCRIPTS/CSP_INLINE_STYLES: no static file {path!r}")
    with open(found, encoding="utf-8") as file:
        return file.read()


def content_security_policy() -> str:
    """The site's CSP: everything from this origin, plus the inlined script and styles by
    their sha256 hashes, computed from the static files the templates inline (settings
    CSP_INLINE_SCRIPTS, CSP_INLINE_STYLES) and the literal styles some templates hold
    (CSP_INLINE_STYLE_TEXTS). No 'unsafe-inline': an injected <script> does not run."""
    scripts = [_sha256_source(_static_text(path)) for path in settings.CSP_INLINE_SCRIPTS]
    styles = [_sha256_source(_static_text(path)) for path in settings.CSP_INLINE_STYLES]
    styles += [_sha256_source(text) for text in settings.CSP_INLINE_STYLE_TEXTS]
    return "; ".join([
        "default-src 'self'",
        " ".join(["script-src 'self'", *scripts]),
        " ".join(["style-src 'self'", *styles]),
        "img-src 'self' data:",  # the favicon is a data: URL
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class SecurityHeadersMiddleware(InlineHooks, MiddlewareMixin):
    """Content-Security-Policy and Permissions-Policy on every response that has none.
    The policy is built once, when the middleware is loaded (at start-up)."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.headers = {}
        if settings.CONTENT_SECURITY_POLICY:
            self.headers["Content-Security-Policy"] = content_security_policy()
        if settings.PERMISSIONS_POLICY:
            self.headers["Permissions-Policy"] = settings.PERMISSIONS_POLICY

    def process_response(self, request, response):
        for header, value in self.headers.items():
            response.setdefault(header, value)
        return response


# --- Nothing per visitor on public responses ----------------------------------------------

def _directives(response) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in response.get("Cache-Control", "").split(",")}


class PublicResponseMiddleware(InlineHooks, MiddlewareMixin):
    """A response that shared caches may keep (Cache-Control: public or s-maxage) must
    carry nothing about one visitor. First in MIDDLEWARE, so it sees the response last.

    The CSRF middleware sets a fresh csrftoken cookie, with Vary: Cookie, on any response
    to a request whose csrftoken cookie is malformed; on a public song page that cookie
    and that Vary would be cached for everyone (or make the page uncacheable). Here the
    cookie and the Vary go: the visitor gets a fresh token on the next private response
    (the /me fragment, a form). Any other cookie (a session, messages), or a session the
    view read, means the response is about this visitor after all: it is made private
    instead, keeping its cookies, and the mismatch is logged."""

    def process_response(self, request, response):
        directives = _directives(response)
        if "public" not in directives and "s-maxage" not in directives:
            return response
        response.cookies.pop(settings.CSRF_COOKIE_NAME, None)
        session = getattr(request, "session", None)
        if response.cookies or (session is not None and session.accessed):
            log.warning("A public response for %s set cookies or read the session: made private", request.path)
            response["Cache-Control"] = "private, no-cache"
            return response
        vary = [v.strip() for v in response.get("Vary", "").split(",") if v.strip() and v.strip().lower() != "cookie"]
        if vary:
            response["Vary"] = ", ".join(vary)
        elif "Vary" in response:
            del response["Vary"]
        return response


# --- The database out of reach: a 503 page, not a traceback ----------------------------------

# SQLSTATEs of a PostgreSQL server that is there but takes no work for now: connection
# exceptions (class 08), shutting down or starting up (57P01-57P03), too many connections.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` means "no working connection to the database", as opposed to a
    query that failed (a statement timeout, a deadlock, a bug), which stays a 500 with
    its traceback in the log."""
    if isinstance(error, InterfaceError):
        return True  # the connection is closed or unusable
    if not isinstance(error, OperationalError):
        return False
    # Django's OperationalError wraps the driver's error, kept as the cause.
    cause = error.__cause__
    if not hasattr(cause, "sqlstate"):
        # Not psycopg: SQLite (sqlite3 errors). Its OperationalErrors are no outage to wait
        # out: "database is locked" means a writer waited out busy_timeout behind a long
        # transaction, a bug to see with its traceback; the rest are a broken file or SQL.
        return False
    # psycopg sets no SQLSTATE on the client's own failures: connection refused or timed
    # out, or lost mid-query ("server closed the connection unexpectedly").
    return cause.sqlstate is None or cause.sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


class DatabaseUnavailableMiddleware(InlineHooks, MiddlewareMixin):
    """A view that fails for want of a database connection answers 503 with Retry-After:
    a short page (or {"error": ...} under /api/) instead of the 500 page and a traceback
    per request. Django calls `process_exception` for sync and async views alike (under
    ASGI from a worker thread). The page is rendered without the request: no context
    processor runs, so nothing reads the session or the user, which need the database.

    Recovery needs nothing here: with CONN_MAX_AGE = 0 (settings) every request opens a
    new connection and closes it at the end, so the first request after the database
    returns simply works (tests/web/test_database_down.py)."""

    retry_after = 10  # seconds
    message = "The song library is unreachable just now. Nothing is lost: try again in a few seconds."
    warn_every = 60.0  # seconds: one warning per minute of outage, not one per request
    # Per process, not per instance: each request handler (Django's, and the short and
    # listening ones of config/short_requests.py) builds its own middleware chain.
    _lock = threading.Lock()
    _warned_at = -warn_every
    _failures = 0  # 503s answered since the last warning

    def process_exception(self, request, exception):
        if not database_unreachable(exception):
            return None  # Django's usual 500
        self._warn(exception)
        if request.path_info.startswith("/api/"):
            response = JsonResponse({"error": self.message}, status=503)
        else:
            page = render_to_string("503.html", {"page_title": "Back in a moment", "message": self.message,
                                                 "path": request.get_full_path()})
            response = HttpResponse(page, status=503)
        response["Retry-After"] = str(self.retry_after)
        response["Cache-Control"] = "no-store"
        # Logged by _warn: keep django.request from logging each 503 again (the flag is
        # the one its log_response sets on responses it has logged).
        response._has_been_logged = True
        return response

    def _warn(self, error: BaseException) -> None:
        now = time.monotonic()
        shared = DatabaseUnavailableMiddleware
        with shared._lock:
            shared._failures += 1
            if now - shared._warned_at < self.warn_every:
                return
            shared._warned_at, failures, shared._failures = now, shared._failures, 0
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning("Database unreachable, answering 503: %s (%d request(s) since the last warning)", reason, failures)
