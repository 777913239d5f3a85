"""The site over real HTTP, served by uvicorn the way `billion-songs serve` serves it."""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import quote, urlsplit

import pytest

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.song import MAX_SONG_ID
from billion_songs.core.songwriting.plan import MOODS
from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import Song


def get(server, path: str, headers: dict | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    parts = urlsplit(str(server))
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def timed_chunks(server, path: str) -> list[tuple[float, bytes]]:
    """The body as it arrives: (seconds since the request, bytes) per read."""
    parts = urlsplit(str(server))
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    start = time.monotonic()
    connection.request("GET", path)
    response = connection.getresponse()
    chunks = []
    while chunk := response.read1(65536):
        chunks.append((time.monotonic() - start, chunk))
    connection.close()
    return chunks


def store(*ids: int) -> None:
    for song in FakeLyricsGenerator().generate(ids):
        services.song_store(song=song)


@pytest.mark.parametrize("song_id", [0, MAX_SONG_ID])
def test_stored_song_over_http_with_etag_and_304(asgi_server, song_id):
    store(song_id)
    response, body = get(asgi_server, f"/song/{song_id}")
    assert response.status == 200
    assert response.getheader("Cache-Control") == "public, max-age=300, s-maxage=600"
    assert response.getheader("Vary") is None and response.getheader("Set-Cookie") is None
    etag = response.getheader("ETag")
    title = Song.objects.get(pk=song_id).title
    assert f'<h1 class="title">{title}</h1>'.encode() in body
    again, empty = get(asgi_server, f"/song/{song_id}", {"If-None-Match": etag})
    assert again.status == 304 and empty == b"" and again.getheader("ETag") == etag


def test_never_seen_id_streams_its_first_line_long_before_the_end(asgi_server, fake):
    fake.line_delay = 0.25  # 11 lines: about 2.75 s for the whole song
    chunks = timed_chunks(asgi_server, "/song/4242")
    song = Song.objects.get(pk=4242)
    shell_at = chunks[0][0]
    first_line_at = next(t for t, c in chunks if f"{song.title}\n".encode() in c)
    done_at = chunks[-1][0]
    assert shell_at < 0.5  # the page shell comes at once
    assert first_line_at < 1.0  # the first line in about a second
    assert done_at > 2.5 and done_at - first_line_at > 2.0  # ...while the rest is written
    body = b"".join(c for _, c in chunks).decode()
    assert f'<h1 class="title">{song.title}</h1>' in body and body.rstrip().endswith("</html>")


def test_concurrent_first_visits_to_one_id_share_one_generation(asgi_server, fake):
    fake.line_delay = 0.05
    bodies: list[bytes] = []
    barrier = threading.Barrier(10)

    def visit(path: str):
        barrier.wait()
        bodies.append(get(asgi_server, path)[1])

    paths = [f"/song/{MAX_SONG_ID}"] * 7 + [f"/api/songs/{MAX_SONG_ID}"] * 3
    threads = [threading.Thread(target=visit, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.generated_ids == [MAX_SONG_ID]
    assert Song.objects.filter(pk=MAX_SONG_ID).count() == 1
    title = Song.objects.get(pk=MAX_SONG_ID).title
    pages = [b for b in bodies if b.startswith(b"<!doctype")]
    documents = [json.loads(b) for b in bodies if b.startswith(b"{")]
    assert len(pages) == 7 and len(documents) == 3
    assert all(f'<h1 class="title">{title}</h1>'.encode() in page for page in pages)
    assert all(d["title"] == title and d["id"] == str(MAX_SONG_ID) for d in documents)


def test_make_random_answers_from_the_pool_over_http(asgi_server, songs_runtime):
    store(1, 2)
    songs_runtime.pool.add([1, 2])
    response, _ = get(asgi_server, "/random")
    assert response.status == 302 and response.getheader("Location") in {"/song/1", "/song/2"}
    assert response.getheader("Cache-Control") == "no-store"


def test_bad_id_over_http_is_a_404_page(asgi_server):
    response, body = get(asgi_server, "/song/18446744073709551616")
    assert response.status == 404 and b"No such song" in body


def test_per_visitor_part_over_http(asgi_server):
    store(3)
    response, body = get(asgi_server, "/song/3/me")
    assert response.status == 200 and response.getheader("Cache-Control") == "private, no-store"
    assert b"Sign in to vote" in body


def _redirect_headers(response) -> dict:
    skip = {"location", "date", "server", "content-length"}
    return {k.lower(): v for k, v in response.getheaders() if k.lower() not in skip}


def test_make_random_fast_path_sends_what_django_sends(asgi_server, songs_runtime):
    """The first pick refreshes the voted-up snapshot through Django; the next ones are
    answered by the ASGI fast path from the pool. Both send the same redirect."""
    songs_runtime.random.voted_refresh = 60  # tests default to refreshing on every pick
    store(1, 2, 3)
    songs_runtime.pool.add([1, 2, 3])
    through_django, _ = get(asgi_server, "/random")
    assert not songs_runtime.random._voted_stale()  # so the next pick takes the fast path
    fast, body = get(asgi_server, "/")
    assert fast.status == through_django.status == 302 and body == b""
    assert fast.getheader("Location") in {"/song/1", "/song/2", "/song/3"}
    assert _redirect_headers(fast) == _redirect_headers(through_django)


def test_make_random_with_a_dry_pool_falls_back_to_stored_songs(asgi_server, songs_runtime):
    songs_runtime.random.voted_refresh = 60
    store(7)
    get(asgi_server, "/random")  # refresh the snapshot
    assert len(songs_runtime.pool) == 0
    response, _ = get(asgi_server, "/random")
    assert response.status == 302 and response.getheader("Location") == "/song/7"


def test_make_random_narrowed_over_http_fast_path_and_django(asgi_server, songs_runtime, monkeypatch):
    from billion_songs.core.songwriting.plan import brief_for
    from billion_songs.web.songs.data import selectors
    from billion_songs.web.songs.http import views
    from billion_songs.web.songs.data.tags import PoolEntry

    songs_runtime.random.voted_refresh = 60
    ids = list(range(50))
    store(*ids)
    songs_runtime.pool.add([PoolEntry(i, brief_for(i).genre, brief_for(i).mood) for i in ids])
    get(asgi_server, "/random?utm_source=x")  # refresh the snapshot; unknown parameters are ignored
    mood = brief_for(0).mood
    matching = {i for i in ids if brief_for(i).mood == mood}
    # From here on the ASGI fast path answers from the pool: neither Django's view nor the
    # database fallback may be asked.
    async def django_must_not_answer(*args, **kwargs):
        raise AssertionError("Django answered")

    monkeypatch.setattr(views.RandomView, "get", django_must_not_answer)
    monkeypatch.setattr(selectors, "song_random_stored_id", lambda **_: pytest.fail("went to the database"))
    for query in (f"mood={quote(mood)}", f"mood={quote(mood.title())}&utm_source=x", f"mood=x&mood={quote(mood)}"):
        response, body = get(asgi_server, f"/random?{query}")
        assert response.status == 302 and body == b"" and response.getheader("Cache-Control") == "no-store"
        assert int(response.getheader("Location").rsplit("/", 1)[1]) in matching
    monkeypatch.undo()
    # An unknown value goes to Django, which says so.
    response, body = get(asgi_server, "/random?mood=hangry")
    assert response.status == 400 and b"No such mood" in body and b"hangry" in body
    response, body = get(asgi_server, "/?genre=%FF")  # not UTF-8: Django decides (an unknown genre)
    assert response.status == 400 and b"No such genre" in body
    # No pooled song of a mood: Django's fallback, a stored song of that mood.
    absent = next(m for m in MOODS if m not in {brief_for(i).mood for i in ids})
    stored = next(i for i in range(1000, 100_000) if brief_for(i).mood == absent)
    store(stored)
    response, _ = get(asgi_server, f"/random?mood={quote(absent)}")
    assert response.status == 302 and response.getheader("Location") == f"/song/{stored}"
