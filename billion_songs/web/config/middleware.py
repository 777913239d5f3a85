"""Django's stock middleware without the thread hops under ASGI.

Under ASGI, Django's `MiddlewareMixin` runs every `process_request` and `process_response`
in a worker thread (`sync_to_async`), two hops per middleware per request, which cost more
than the hooks themselves. The hooks of the middleware below do no I/O (the session and
the user are loaded lazily, only when a view asks), so they run on the event loop; the
one hook that can write to the database, saving a modified session, still goes to a
thread. Under WSGI (the test client) nothing changes.

`DatabaseUnavailableMiddleware`, at the end, answers 503 while the database is out of reach.
"""

from __future__ import annotations

import logging
import threading
import time

from asgiref.sync import sync_to_async
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
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
    async def __acall__(self, request):
        self.process_request(request)  # a lazy SessionStore: reads nothing yet
        response = await self.get_response(request)
        session = request.session
        if session.accessed or session.modified:
            # Saving the session touches the database: that part runs in a thread.
            return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
        return response  # untouched session: the stock hook would do nothing either


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

    def __init__(self, get_response):
        super().__init__(get_response)
        self._lock = threading.Lock()
        self._warned_at = -self.warn_every
        self._failures = 0  # 503s answered since the last warning

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
        with self._lock:
            self._failures += 1
            if now - self._warned_at < self.warn_every:
                return
            self._warned_at, failures, self._failures = now, self._failures, 0
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning("Database unreachable, answering 503: %s (%d request(s) since the last warning)", reason, failures)
