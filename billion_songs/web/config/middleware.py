"""Django's stock middleware without the thread hops under ASGI.

Under ASGI, Django's `MiddlewareMixin` runs every `process_request` and `process_response`
in a worker thread (`sync_to_async`), two hops per middleware per request, which cost more
than the hooks themselves. The hooks of the middleware below do no I/O (the session and
the user are loaded lazily, only when a view asks), so they run on the event loop; the
one hook that can write to the database, saving a modified session, still goes to a
thread. Under WSGI (the test client) nothing changes.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, security


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
