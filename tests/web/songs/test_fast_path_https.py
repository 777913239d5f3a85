"""Make Random's ASGI fast path on an https site: plain http gets Django's redirect to
https, an https request is answered from the pool with the headers of an https answer
(HSTS included)."""

from __future__ import annotations

import asyncio

import pytest
from django.core.asgi import get_asgi_application

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.web.songs.data import services
from billion_songs.web.songs.http.fast_path import with_fast_random

pytestmark = pytest.mark.django_db(transaction=True)


def _call(application, scheme: str) -> tuple[int, dict[bytes, bytes]]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": scheme, "path": "/random", "raw_path": b"/random", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"songs.example")], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 443 if scheme == "https" else 80)}
    sent = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected; Django stops listening when done

    async def send(message):
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    start = sent[0]
    return start["status"], {name.lower(): value for name, value in start["headers"]}


def test_an_https_site_answers_only_https_requests_on_the_fast_path(settings, songs_runtime):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.ALLOWED_HOSTS = ["songs.example"]
    songs_runtime.random.voted_refresh = 60
    for song in FakeLyricsGenerator().generate([1, 2, 3]):
        services.song_store(song=song)
    songs_runtime.pool.add([1, 2, 3])
    django_application = get_asgi_application()
    through_django = []

    async def counted(scope, receive, send):
        through_django.append(scope["scheme"])
        await django_application(scope, receive, send)

    application = with_fast_random(counted)

    status, headers = _call(application, "http")
    assert status == 301 and headers[b"location"].startswith(b"https://songs.example/")

    first_status, first = _call(application, "https")  # Django answers, the fast path learns its headers
    fast_status, fast = _call(application, "https")
    assert first_status == fast_status == 302
    assert b"max-age=31536000" in fast[b"strict-transport-security"]
    assert fast[b"content-security-policy"] == first[b"content-security-policy"]
    assert fast[b"location"] in {b"/song/1", b"/song/2", b"/song/3"}
    assert through_django == ["http", "https"]  # the second https pick never reached Django

    again_status, again = _call(application, "http")  # still redirected to https, never the pool
    assert again_status == 301 and through_django == ["http", "https", "http"]


def test_the_fast_paths_location_is_the_url_configs():
    from django.urls import reverse

    from billion_songs.web.songs.http.fast_path import detail_location

    for song_id in (0, 7, 2**64 - 1):
        assert detail_location(song_id) == reverse("songs:detail", args=[song_id]).encode()
