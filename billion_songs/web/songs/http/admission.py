"""Answering a visitor whom admission control turned away (generation/admission.py):
429 when this client already waits on its share of new songs, 503 when the site's queue
of new songs is full. Both carry Retry-After and are never cached; the page offers Make
Random (a song that is ready) and a link to try the same song again, the JSON says the
same for /api."""

from __future__ import annotations

import json
from functools import lru_cache

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse

from billion_songs.web.accounts.throttle import address_bucket, client_address
from billion_songs.web.songs.generation.admission import Refused
from billion_songs.web.songs.http.page_cache import never_cache

STATUS = {"client": 429, "busy": 503}
MESSAGES = {
    "client": "You are already waiting for as many new songs as one visitor can; try again when they are written.",
    "busy": "Many new songs are being written right now; try again shortly.",
}


def admission_client(request: HttpRequest) -> str:
    """Who a wait for a new song is counted for: the visitor's address (REMOTE_ADDR,
    which ClientAddressMiddleware takes from X-Forwarded-For behind a trusted proxy),
    an IPv6 address per /64, as the sign-in throttle counts it."""
    return address_bucket(client_address(request))


CONTENT_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8"}


def refused_body(refused: Refused, *, song_id: int, kind: str) -> bytes:
    """The body of the friendly 429/503 for `kind` "html" (the song page) or "json" (/api):
    the same for every visitor (rendered without the request), so the ASGI front
    (fast_path.py) sends it too."""
    return _refusal_without_id(kind, refused.reason, refused.retry_after).replace(_ANY_ID, str(song_id).encode())


# Stands for the song's id in a refusal rendered once: the largest id, whose 20 digits
# appear nowhere else on the page (tests/web/songs/test_admission.py compares with a
# page rendered for the id itself).
_ANY_ID = str(2**64 - 1).encode()


@lru_cache(maxsize=256)
def _refusal_without_id(kind: str, reason: str, retry_after: int) -> bytes:
    """A refusal's body with `_ANY_ID` where the id goes. Rendered once per kind, reason and
    wait, not per refusal: a flood of new ids is refused hundreds of times a second, and
    rendering the page (with its layout) on the event loop cost more than the rest of the
    refusal together (measured with bench/bench_flood.py --scaled)."""
    song_id = int(_ANY_ID)
    if kind == "json":
        return json.dumps({"id": str(song_id), "error": MESSAGES[reason], "retry_after": retry_after,
                           "try_again": reverse("songs:api_detail", args=[song_id]),
                           "random": reverse("songs:random")}).encode()
    context = {"song_id": song_id, "song_path": reverse("songs:detail", args=[song_id]), "reason": reason,
               "retry_after": retry_after, "page_title": f"Song #{song_id} is waiting its turn"}
    return render_to_string("songs/busy.html", context).encode()


def refused_response(refused: Refused, *, song_id: int, kind: str) -> HttpResponse:
    """The friendly 429/503 for `kind` "html" (the song page) or "json" (/api)."""
    response = HttpResponse(refused_body(refused, song_id=song_id, kind=kind), status=STATUS[refused.reason],
                            content_type=CONTENT_TYPES[kind])
    response["Retry-After"] = str(refused.retry_after)
    return never_cache(response)
