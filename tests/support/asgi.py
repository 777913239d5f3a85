"""One HTTP request to an ASGI application, in this process, as uvicorn makes it: for the
tests and benches that call the site's application without a server."""

from __future__ import annotations

import asyncio


def scope(method: str, path: str, headers=(), *, host: str = "testserver", client: str = "127.0.0.1") -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", host.encode()), *headers], "client": (client, 40000),
            "server": (host, 80)}


async def call(app, method: str, path: str, *, body: bytes = b"", headers=(), host: str = "testserver",
               client: str = "127.0.0.1") -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of one request; a POST carries its Content-Length."""
    received = False

    async def receive():
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays until the answer

    started, chunks = {}, []

    async def send(message):
        if message["type"] == "http.response.start":
            started.update(message)
        else:
            chunks.append(message.get("body", b""))

    headers = [*headers, (b"content-length", str(len(body)).encode())] if method == "POST" else list(headers)
    await app(scope(method, path, headers, host=host, client=client), receive, send)
    return started["status"], started.get("headers", []), b"".join(chunks)


def front_counting_django():
    """The site's ASGI front (songs/http/fast_path.py) over Django's application, and the
    paths of the requests that reached Django, in order."""
    from django.core.asgi import get_asgi_application

    from billion_songs.web.songs.http.fast_path import with_fast_random

    django_application = get_asgi_application()
    through_django: list[str] = []

    async def count(scope, receive, send):
        through_django.append(scope["path"])
        await django_application(scope, receive, send)

    return with_fast_random(count), through_django
