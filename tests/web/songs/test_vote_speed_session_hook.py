"""The session middleware under ASGI (config/middleware.py): a session that a request
only read (a vote, the /me fragment) is finished on the event loop, with Vary: Cookie
as Django's hook sets it; only a session to save goes to a thread."""

import asyncio
import threading

import pytest
from django.conf import settings
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from billion_songs.web.config.middleware import SessionMiddleware

# Signed cookies: the middleware's choice of thread does not depend on the engine, and
# this one needs no database, so the session can be read on the event loop in the test.
pytestmark = pytest.mark.usefixtures("cookie_sessions")


@pytest.fixture
def cookie_sessions():
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        yield


class Recording(SessionMiddleware):
    def process_response(self, request, response):
        self.threads.append(threading.get_ident())
        return super().process_response(request, response)


def _run(view, cookie: str | None = None, **overrides):
    async def get_response(request):
        return view(request)

    request = RequestFactory().post("/song/7/vote")
    if cookie is not None:
        request.COOKIES[settings.SESSION_COOKIE_NAME] = cookie

    async def main():
        middleware = Recording(get_response)
        middleware.threads = []
        response = await middleware(request)
        return response, middleware.threads, threading.get_ident()

    with override_settings(**overrides):
        return asyncio.run(main())


def _signed_in_cookie() -> str:
    session = SessionStore()
    session["_auth_user_id"] = "7"
    session.save()
    return session.session_key


def _reads(request):
    assert request.session.get("_auth_user_id") == "7"
    return HttpResponse("ok")


def test_a_session_only_read_is_finished_on_the_event_loop():
    response, threads, loop_thread = _run(_reads, _signed_in_cookie())
    assert threads == [loop_thread]  # fails when the hook always goes to a thread
    assert response["Vary"] == "Cookie"
    assert settings.SESSION_COOKIE_NAME not in response.cookies  # nothing saved, no cookie


def test_a_modified_session_is_saved_in_a_thread():
    def writes(request):
        request.session["seen"] = True
        return HttpResponse("ok")

    response, threads, loop_thread = _run(writes, _signed_in_cookie())
    assert len(threads) == 1 and threads[0] != loop_thread
    assert response.cookies[settings.SESSION_COOKIE_NAME].value  # saved: a fresh cookie
    assert response["Vary"] == "Cookie"


def test_save_every_request_still_saves_in_a_thread():
    response, threads, loop_thread = _run(_reads, _signed_in_cookie(), SESSION_SAVE_EVERY_REQUEST=True)
    assert len(threads) == 1 and threads[0] != loop_thread
    assert response.cookies[settings.SESSION_COOKIE_NAME].value


def test_an_untouched_session_runs_no_hook():
    response, threads, _ = _run(lambda request: HttpResponse("ok"), _signed_in_cookie())
    assert threads == [] and not response.has_header("Vary")
