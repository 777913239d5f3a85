"""Django's ASGI handler for short requests, without a thread per request.

Django's `ASGIHandler` runs each request in a `ThreadSensitiveContext`: the first
synchronous step of a request (the request_started signal's receivers, at the latest
`response.close()`) starts a new OS thread for that request alone, and every request
waits twice for it (the signals on its way in and out) and once more for a task that
listens for the client leaving. For a vote, whose view already runs on threads of its own
(songs/http/offload.py), that overhead cost more CPU than the vote's own statement:
bench/bench_votes.py measures a bare request at 2.95 ms of CPU through Django's handler
and 0.75 ms through this one (AVX2-only EPYC).

`ShortRequestHandler` serves a request with the same pieces of Django, in the same order:
the body read by `read_body` (Django's size limits), the request made by `create_request`
(a 400 or 413 for a bad one), the configured middleware and the URL's view through
`get_response_async` (exceptions turned into responses, CSRF, sessions, authentication
and the security headers exactly as for every other request), the response sent by
`send_response`; the request_started and request_finished signals are sent on the event
loop's thread, whose receivers (closing this thread's database connections, resetting
the URL configuration) have nothing to wait for there. What it leaves out: the per-request
thread, and noticing a client that leaves before its answer (a vote it sent is cast
anyway, as with a form posted just before closing the tab).

Only for requests whose views are async and quick, marked `short_request = True` on the
view class: a synchronous view would run on Django's one shared thread for synchronous
code. `with_short_requests` sends those here and everything else to Django's handler.

`ListeningRequestHandler` is the same for the async song views that may wait a long time
(a visitor of a new id waits for, and is streamed, the song being written), marked
`listening_request = True`: it also listens for the client leaving, as Django's handler
does, and then cancels the view (the visitor's place and a queued song are given back).
A flood of never-seen ids comes this way when the ASGI front cannot refuse it alone (the
scaled shape counts in Redis): through Django's handler each request started a thread,
and the event loop stood still until the new thread ran, which on a busy machine took
milliseconds, for every request of the process, the stored pages others read included
(bench/bench_flood.py --scaled).
"""

from __future__ import annotations

import asyncio

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import Resolver404, resolve, set_script_prefix


class ShortRequestHandler(ASGIHandler):
    """Django's request cycle for quick async views, all on the event loop's thread."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"only HTTP requests come here, not {scope['type']}")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        response = None
        try:
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is None:
                await self._sent(response, send)
            else:
                response = await self.respond(request, receive, send)
        finally:
            if response is None:  # no answer: the client left first, or the view raised
                signals.request_finished.send(sender=self.__class__)
            else:
                response.close()  # request_finished
            body_file.close()

    async def respond(self, request, receive, send):
        """The view's response, sent; None if there is none to close."""
        return await self._sent(await self.run_get_response(request), send)

    async def _sent(self, response, send):
        try:
            await self.send_response(response, send)
        except asyncio.CancelledError:  # the client left while the answer was sent
            pass
        return response


class ListeningRequestHandler(ShortRequestHandler):
    """`ShortRequestHandler` that also listens for the client leaving while the view
    works or its answer streams, and then cancels the view, as Django's
    `ASGIHandler.handle` does (and, as there, an answer cut short while it was being sent
    is closed as usual)."""

    async def respond(self, request, receive, send):
        work = asyncio.ensure_future(super().respond(request, receive, send))
        left = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait([work, left], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # this request's task is cancelled (the server stops)
            work.cancel()
            left.cancel()
            raise
        if work.done():
            left.cancel()
            return work.result()
        work.cancel()
        try:
            response = await work  # cancelled while it was sent: the answer, to close
        except asyncio.CancelledError:
            response = None  # cancelled before the view answered
        if not isinstance(left.exception(), RequestAborted):
            raise left.exception()  # not a disconnect: an ASGI protocol error, raised as Django does
        return response


def _view_class(scope):
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    try:
        return getattr(resolve(path).func, "view_class", None)
    except Resolver404:
        return None


def is_short(scope) -> bool:
    """A POST to a view marked `short_request = True`."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    return getattr(_view_class(scope), "short_request", False)


def is_listening(scope) -> bool:
    """A GET or HEAD of a view marked `listening_request = True`."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return False
    return getattr(_view_class(scope), "listening_request", False)


def with_short_requests(django_application):
    """The ASGI application: short requests through `ShortRequestHandler`, listening
    ones through `ListeningRequestHandler`, the rest through `django_application`."""
    short, listening = ShortRequestHandler(), ListeningRequestHandler()

    async def application(scope, receive, send):
        if is_short(scope):
            return await short(scope, receive, send)
        if is_listening(scope):
            return await listening(scope, receive, send)
        return await django_application(scope, receive, send)

    return application
