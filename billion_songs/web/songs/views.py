"""Thin views: parse, ask the runtime or a selector, answer with the right cache headers.

The song views are async so that a cached page is answered on the event loop without a
hop to a worker thread, and a page being written streams without holding a thread.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags
from django.views import View

from billion_songs.web.songs import pages, runtime, selectors
from billion_songs.web.songs.source import Broken


def _site_url(request: HttpRequest) -> str:
    return settings.SITE_URL or f"{request.scheme}://{request.get_host()}"


def _public(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, public=True, max_age=settings.SONG_BROWSER_MAX_AGE,
                        s_maxage=settings.SONG_SHARED_MAX_AGE)
    return response


def _never_cache(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


async def _stored_page(request: HttpRequest, song_id: int, kind: str) -> pages.Page | None:
    """The rendered page of a stored song (from the page cache, else rendered and cached),
    or None for an id never generated."""
    site_url = _site_url(request)
    page = pages.page_cached(kind=kind, song_id=song_id, site_url=site_url)
    if page is None:
        song = await sync_to_async(selectors.song_get)(song_id=song_id)
        if song is None:
            return None
        page = _render_and_cache(song, kind, site_url)
    return page


def _render_and_cache(song, kind: str, site_url: str) -> pages.Page:
    page = pages.RENDERERS[kind](song=song, site_url=site_url)
    pages.page_cache(kind=kind, song_id=song.id, site_url=site_url, page=page)
    return page


def _page_response(request: HttpRequest, page: pages.Page) -> HttpResponse:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and (page.etag in parse_etags(if_none_match) or if_none_match.strip() == "*"):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(page.body, content_type=page.content_type)
    response["ETag"] = page.etag
    return _public(response)


class SongView(View):
    """/song/<id>: the stored song, or the song streamed while it is first written."""

    async def get(self, request: HttpRequest, song_id: int) -> HttpResponse:
        page = await _stored_page(request, song_id, "html")
        if page is not None:
            return _page_response(request, page)
        flight = runtime.get().source.flight(song_id)
        stream = pages.writing_stream(flight=flight, song_id=song_id, site_url=_site_url(request))
        # Not cacheable: the bytes of a page being written differ from the stored page's.
        return _never_cache(StreamingHttpResponse(stream, content_type="text/html; charset=utf-8"))


class SongApiView(View):
    """/api/songs/<id>: the song as JSON; a never-seen id is written first (single-flight)."""

    async def get(self, request: HttpRequest, song_id: int) -> HttpResponse:
        page = await _stored_page(request, song_id, "json")
        if page is None:
            result = await runtime.get().source.flight(song_id).aresult()
            if isinstance(result, Broken):
                response = HttpResponse('{"error": "the song could not be written now; try again"}',
                                        status=503, content_type="application/json")
                return _never_cache(response)
            page = _render_and_cache(result.song, "json", _site_url(request))
        return _page_response(request, page)


class RandomView(View):
    """/random and /: a redirect to a song picked by Make Random; never waits for a model."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        song_id = await runtime.get().random.apick()
        return _never_cache(HttpResponseRedirect(reverse("songs:detail", args=[song_id])))


class SongMeView(View):
    """/song/<id>/me: the per-visitor part of a song page (sign-in state, the visitor's
    vote, the counts), fetched after the page loads. Private and never stored, so the
    song page itself stays the same bytes for everyone."""

    def get(self, request: HttpRequest, song_id: int) -> HttpResponse:
        context = {
            "song_id": song_id,
            "votes": selectors.song_vote_summary(song_id=song_id, user=request.user),
            "user": request.user,
            "login_url": f"{settings.LOGIN_URL}?next={reverse('songs:detail', args=[song_id])}",
        }
        response = render(request, "songs/me.html", context)
        response["Cache-Control"] = "private, no-store"
        return response


class HealthView(View):
    """/healthz: a bare view (for load balancers, and the benchmark's baseline)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return _never_cache(HttpResponse(b"ok", content_type="text/plain"))
