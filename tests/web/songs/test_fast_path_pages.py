"""Cached song pages answered in the ASGI front (songs/http/fast_path.py): the same status,
body and headers as Django's answer (ETag, Cache-Control, security headers, no cookie),
304 for a matching If-None-Match, and Django for everything it might answer otherwise."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from django.core.asgi import get_asgi_application

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.http import fast_path
from billion_songs.web.songs.http.fast_path import page_target, with_fast_random
from tests.support.asgi import call, front_counting_django

pytestmark = pytest.mark.django_db(transaction=True)

_PER_REQUEST = {b"date", b"server"}


def _call(application, path: str, *, host: bytes = b"127.0.0.1", method: str = "GET", scheme: str = "http",
          extra: list[tuple[bytes, bytes]] = (), client: str = "127.0.0.1") -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": scheme, "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", host), *extra], "client": (client, 5000), "server": ("127.0.0.1", 80)}
    sent = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.Event().wait()

    async def send(message):
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    body = b"".join(message.get("body", b"") for message in sent[1:])
    headers = {name.lower(): value for name, value in sent[0]["headers"]}
    assert len(headers) == len(sent[0]["headers"]), "a header sent twice"
    return sent[0]["status"], headers, body


@pytest.fixture
def counted(settings, songs_runtime):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["127.0.0.1", "songs.example"]
    for song in FakeLyricsGenerator().generate([1, 2, 3]):
        services.song_store(song=song)
    return front_counting_django()


def _same(fast: dict, slow: dict) -> None:
    assert {k: v for k, v in fast.items() if k not in _PER_REQUEST} == \
        {k: v for k, v in slow.items() if k not in _PER_REQUEST}


def test_a_cached_page_is_answered_before_django_with_djangos_headers(counted):
    application, through_django = counted
    first_etag = None
    for path in ("/song/1", "/api/songs/1"):
        slow_status, slow, slow_body = _call(application, path)  # renders and caches; headers learnt
        fast_status, fast, fast_body = _call(application, path)
        assert slow_status == fast_status == 200 and fast_body == slow_body
        _same(fast, slow)
        assert b"public" in fast[b"cache-control"] and b"etag" in fast
        assert b"set-cookie" not in fast and b"vary" not in fast
        assert b"content-security-policy" in fast and b"x-frame-options" in fast
        first_etag = first_etag or fast[b"etag"]
    assert through_django == ["/song/1", "/api/songs/1"]

    # Another song's page: cached by Django, then answered here with the headers learnt.
    _call(application, "/song/2")
    status, headers, body = _call(application, "/song/2")
    assert status == 200 and b"<html" in body and headers[b"etag"] != first_etag
    assert through_django == ["/song/1", "/api/songs/1", "/song/2"]


def test_if_none_match_is_answered_304_here_weak_etags_included(counted):
    application, through_django = counted
    _, first, _ = _call(application, "/song/1")
    etag = first[b"etag"]
    slow_status, slow, slow_body = _call(application, "/song/1", extra=[(b"if-none-match", etag)])  # Django: 304
    fast_status, fast, fast_body = _call(application, "/song/1", extra=[(b"if-none-match", b"W/" + etag)])
    assert slow_status == fast_status == 304 and slow_body == fast_body == b""
    _same(fast, slow)
    assert through_django == ["/song/1", "/song/1"]
    status, _, body = _call(application, "/song/1", extra=[(b"if-none-match", b'"other"')])
    assert status == 200 and body and through_django == ["/song/1", "/song/1"]


def test_a_malformed_csrf_cookie_gets_no_cookie_on_the_fast_path(counted):
    application, _ = counted
    _call(application, "/song/1")
    _call(application, "/song/1")
    status, headers, _ = _call(application, "/song/1", extra=[(b"cookie", b"csrftoken=bad!")])
    assert status == 200 and b"set-cookie" not in headers and b"vary" not in headers


def test_django_answers_what_it_might_answer_otherwise(counted, settings):
    application, through_django = counted
    _call(application, "/song/1")
    _call(application, "/song/1")
    assert through_django == ["/song/1"]
    status, _, _ = _call(application, "/song/1", host=b"evil.example")  # not in ALLOWED_HOSTS
    assert status == 400 and through_django[-1] == "/song/1"
    _call(application, "/song/1", method="HEAD")
    _call(application, "/song/1", host=b"songs.example")  # another site URL: not cached for it yet
    assert len(through_django) == 4
    _call(application, "/song/1", host=b"songs.example")
    assert len(through_django) == 4  # now it is

    # A hidden song's page (410) is Django's, and so is a page not in the cache.
    Song.objects.filter(pk=3).update(hidden=True)
    status, _, _ = _call(application, "/song/3")
    status_again, _, _ = _call(application, "/song/3")
    assert status == status_again == 410 and len(through_django) == 6
    status, _, _ = _call(application, "/song/4")  # never seen: a HEAD-less GET writes it, through Django
    assert len(through_django) == 7


def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(counted, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.5"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    application, through_django = counted  # built before: rebuild with these settings
    django_application = get_asgi_application()

    async def count(scope, receive, send):
        through_django.append(scope["path"])
        await django_application(scope, receive, send)

    application = with_fast_random(count)
    proto = [(b"x-forwarded-proto", b"https")]
    _call(application, "/song/1", client="10.0.0.5", extra=proto)  # cached for https://127.0.0.1
    _, direct, _ = _call(application, "/song/1", client="10.0.0.5", extra=proto)
    assert through_django == ["/song/1"]
    # The same header from anyone else is dropped, as ClientAddressMiddleware drops it:
    # http://127.0.0.1's page, not cached yet, so Django's.
    _call(application, "/song/1", client="203.0.113.9", extra=proto)
    assert through_django == ["/song/1", "/song/1"]


def test_page_target_takes_the_url_converters_spelling_only():
    assert page_target("/song/12") == ("html", 12)
    assert page_target("/api/songs/12") == ("json", 12)
    for path in ("/song/012", "/song/12/me", "/song/12.mid", "/song/", "/song/+1", "/song/١٢",
                 "/song/99999999999999999999", "/songs/1"):
        assert page_target(path) is None, path


def _without_wait(body: bytes) -> bytes:
    body = re.sub(rb"about \d+ seconds?", b"about N seconds", body)
    return re.sub(rb'"retry_after": \d+', b'"retry_after": N', body)


def test_a_refusal_is_answered_before_django_with_djangos_body_and_headers(counted, songs_runtime):
    application, through_django = counted
    # This client already waits on as many new songs as it may (the visits are held).
    held = [songs_runtime.flights.visit(song_id, client="127.0.0.1") for song_id in (100, 101, 102, 103)]
    for path, other in (("/song/200", "/song/201"), ("/api/songs/200", "/api/songs/201")):
        slow_status, slow, slow_body = _call(application, path)  # Django refuses; the front learns its headers
        fast_status, fast, fast_body = _call(application, path)
        # The wait in the body (and Retry-After) may tick down a second between the calls.
        assert slow_status == fast_status == 429 and _without_wait(fast_body) == _without_wait(slow_body)
        waits = {b"retry-after", b"content-length"}
        _same({k: v for k, v in fast.items() if k not in waits}, {k: v for k, v in slow.items() if k not in waits})
        assert fast[b"cache-control"] == b"no-store" and int(fast[b"retry-after"]) >= 1
        assert b"content-security-policy" in fast
        status, _, body = _call(application, other)
        assert status == 429 and b"201" in body
    assert through_django == ["/song/200", "/api/songs/200"]

    # A stored song that is not in the page cache is never refused: Django renders it.
    status, _, body = _call(application, "/song/2")
    assert status == 200 and through_django[-1] == "/song/2"
    # Another client is admitted (through Django), and its song is written.
    status, _, _ = _call(application, "/api/songs/300", client="203.0.113.7")
    assert status == 200 and through_django[-1] == "/api/songs/300"
    del held


def _flood(application, paths: list[str]) -> list[int]:
    """The statuses of `paths` asked for all at once, on one event loop."""
    async def all_at_once():
        answers = await asyncio.gather(*(call(application, "GET", path, host="127.0.0.1") for path in paths))
        return [status for status, _, _ in answers]

    return asyncio.run(all_at_once())


def test_a_cold_front_sends_one_refusal_of_a_kind_through_django_not_the_whole_flood(counted, songs_runtime):
    application, through_django = counted
    held = [songs_runtime.flights.visit(song_id, client="127.0.0.1") for song_id in (100, 101, 102, 103)]
    statuses = _flood(application, [f"/song/{2000 + n}" for n in range(12)])
    assert statuses == [429] * 12
    assert len(through_django) == 1, through_django  # the others waited for its headers
    del held


@pytest.mark.parametrize("at_once", [1, 3])
def test_requests_for_new_ids_are_checked_in_turns(counted, songs_runtime, settings, at_once):
    settings.SONG_NEW_CHECKED_AT_ONCE = at_once
    application, _ = counted
    checking = most = 0
    foresee = songs_runtime.flights.foresee

    async def slow_foresee(song_id: int, *, client: str):
        nonlocal checking, most
        checking += 1
        most = max(most, checking)
        await asyncio.sleep(0.01)  # a look in Redis, say
        checking -= 1
        return await foresee(song_id, client=client)

    songs_runtime.flights.foresee = slow_foresee
    held = [songs_runtime.flights.visit(song_id, client="127.0.0.1") for song_id in (100, 101, 102, 103)]
    statuses = _flood(application, [f"/song/{3000 + n}" for n in range(20)])
    assert statuses == [429] * 20 and most == at_once
    del held


def test_a_slow_first_refusal_holds_up_one_turn_not_the_flood(settings, songs_runtime, monkeypatch):
    """Django's first refusal of a kind may be slow (it admitted the visitor after all,
    and /api answers once the song is written): one refusal waits `_LESSON_WAIT` for its
    headers, then goes to Django and teaches the others; nobody else waits in turn."""
    monkeypatch.setattr(fast_path, "_LESSON_WAIT", 0.3)
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    django_application = get_asgi_application()
    through_django: list[str] = []

    async def slow_first(scope, receive, send):
        through_django.append(scope["path"])
        if len(through_django) == 1:
            await asyncio.sleep(2.0)
        await django_application(scope, receive, send)

    application = with_fast_random(slow_first)
    held = [songs_runtime.flights.visit(song_id, client="127.0.0.1") for song_id in (100, 101, 102, 103)]
    answered: dict[str, float] = {}

    async def ask(path: str) -> int:
        status, _, _ = await call(application, "GET", path, host="127.0.0.1")
        answered[path] = time.monotonic() - started
        return status

    async def all_at_once():
        return await asyncio.gather(*(ask(f"/song/{4000 + n}") for n in range(6)))

    started = time.monotonic()
    assert asyncio.run(all_at_once()) == [429] * 6
    assert through_django == ["/song/4000", "/song/4001"]
    # Each waiting in turn for the slow one would answer the last at >= 5 x 0.3 s.
    later = [answered[f"/song/{4000 + n}"] for n in range(1, 6)]
    assert max(later) < 1.0 and answered["/song/4000"] >= 2.0, answered
    del held


def test_a_first_refusal_admitted_after_all_hands_the_lesson_to_the_next(settings, songs_runtime):
    """The request sent to Django to learn a refusal's headers can be admitted after all
    (its visit found room the look did not). Then the next refusal teaches and the others
    wait for it; before, every request waiting went to Django until one refusal came back."""
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    django_application = get_asgi_application()
    through_django: list[str] = []

    async def first_admitted(scope, receive, send):
        through_django.append(scope["path"])
        if len(through_django) == 1:  # an admitted visitor's page, streamed while the song is written
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
            await send({"type": "http.response.body", "body": b"<p>writing...", "more_body": True})
            await asyncio.sleep(0.5)
            await send({"type": "http.response.body", "body": b"</p>"})
            return
        await django_application(scope, receive, send)

    application = with_fast_random(first_admitted)
    held = [songs_runtime.flights.visit(song_id, client="127.0.0.1") for song_id in (100, 101, 102, 103)]
    statuses = _flood(application, [f"/song/{6000 + n}" for n in range(8)])
    assert sorted(statuses) == [200] + [429] * 7, statuses
    assert through_django == ["/song/6000", "/song/6001"], through_django
    del held


def test_a_visitor_back_before_its_retry_after_is_refused_at_the_pace(counted, songs_runtime, settings):
    """A script that asks again the moment it is refused gets its refusals a slot apart
    (refusal_pace.py); another visitor's first refusal and a stored page are not held."""
    settings.SONG_EARLY_REFUSALS_PER_SECOND = 4  # a slot every 0.25 s
    application, through_django = counted
    held = [songs_runtime.flights.visit(song_id, client=client) for client in ("127.0.0.1", "203.0.113.7")
            for song_id in (100, 101, 102, 103)]
    answered: list[str] = []

    async def ask(path: str, client: str = "127.0.0.1") -> int:
        status, _, _ = await call(application, "GET", path, host="127.0.0.1", client=client)
        answered.append(path)
        return status

    async def on_one_loop():  # the pace is the event loop's, as in a web process
        assert await ask("/song/7000") == 429  # Django's: the front learns its headers
        assert await ask("/song/2") == 200  # a stored page, cached
        started = asyncio.get_running_loop().time()
        for n in range(1, 4):  # back at once, one after another: slots 0, 0.25 and 0.5 s on
            assert await ask(f"/song/{7000 + n}") == 429
        assert asyncio.get_running_loop().time() - started >= 0.45
        early = [asyncio.create_task(ask(f"/song/{7100 + n}")) for n in range(3)]  # held 0.25, 0.5, 0.75 s
        await asyncio.sleep(0.05)
        assert await ask("/song/7200", client="203.0.113.7") == 429  # its first refusal
        assert await ask("/song/2") == 200
        assert await asyncio.gather(*early) == [429] * 3

    asyncio.run(on_one_loop())
    assert answered[-5:-3] == ["/song/7200", "/song/2"], answered
    assert through_django == ["/song/7000", "/song/2"]
    del held
