"""Thin views: parse, ask the runtime, a selector or a service, answer with the right
cache headers.

The song views are async so that a cached page is answered on the event loop without a
hop to a worker thread, and a page being written streams without holding a thread. The
per-visitor views (the /me fragment, votes, title suggestions, My votes) are ordinary
synchronous views, private and never cached; the charts are public and cached briefly.
"""

from __future__ import annotations

from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotModified,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render, resolve_url
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags
from django.views import View

from billion_songs.web.songs import pages, runtime, selectors, services, tags
from billion_songs.web.songs.forms import TitleSuggestionForm, VoteForm
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
    if page.status != 200:  # a removed song: kept briefly, since a moderator can undo it
        response = HttpResponse(page.body, content_type=page.content_type, status=page.status)
        patch_cache_control(response, public=True, max_age=settings.SONG_REMOVED_MAX_AGE)
        return response
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
    """/random and /: a redirect to a song picked by Make Random; never waits for a model.
    `?genre=folk`, `?mood=sad` (or both) narrow the pick; an unknown value is a 400 page
    that lists the known ones."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        try:
            narrowing = tags.narrowing_from(request.GET.get)
        except tags.UnknownTag as unknown:
            body = render_to_string("songs/unknown_tag.html", {
                "page_title": f"No such {unknown.kind}", "kind": unknown.kind, "value": unknown.value,
                "known": unknown.known})
            return _never_cache(HttpResponseBadRequest(body))
        song_id = await runtime.get().random.apick(narrowing)
        return _never_cache(HttpResponseRedirect(reverse("songs:detail", args=[song_id])))


def login_url_for(path: str) -> str:
    """The sign-in page, coming back to `path` afterwards."""
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': path}, safe='/')}"


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


def _me_response(request: HttpRequest, song_id: int, *, error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    song_path = reverse("songs:detail", args=[song_id])
    visibility = selectors.song_visibility(song_id=song_id)
    context = {
        "song_id": song_id,
        "visibility": visibility,
        "user": user,
        "login_url": login_url_for(song_path),
        "error": error,
        "max_length": settings.TITLE_SUGGESTION_MAX_LENGTH,
    }
    if visibility == "ok":
        context.update(
            votes=selectors.song_vote_summary(song_id=song_id, user=user),
            suggestions=selectors.title_suggestions(song_id=song_id, user=user),
            best=selectors.title_suggestion_best(song_id=song_id),
            has_suggested=user.is_authenticated and selectors.user_has_suggested(user=user, song_id=song_id),
        )
    return _private(render(request, "songs/me.html", context, status=status))


def _is_fragment(request: HttpRequest) -> bool:
    """A request from the page's script, which wants the refreshed /me fragment back."""
    return request.headers.get("X-Fragment") == "me"


def _after_action(request: HttpRequest, song_id: int, *, error: str = "", status: int = 200) -> HttpResponse:
    """The refreshed fragment for the page's script; without JavaScript, back to the song
    (303: see other), with any error as a message that the fragment shows there."""
    if _is_fragment(request):
        return _me_response(request, song_id, error=error, status=status)
    if error:
        messages.error(request, error)
    return _private(HttpResponseRedirect(reverse("songs:detail", args=[song_id]) + "#me", status=303))


def _sign_in_first(request: HttpRequest, song_id: int) -> HttpResponse:
    """An anonymous visitor clicked vote: sign in, then come back to the same song."""
    url = login_url_for(reverse("songs:detail", args=[song_id]))
    if _is_fragment(request):
        response = HttpResponse("Sign in first.", status=401, content_type="text/plain")
        response["X-Sign-In"] = url
        return _private(response)
    return _private(HttpResponseRedirect(url))


class SongMeView(View):
    """/song/<id>/me: the per-visitor part of a song page (sign-in state, the visitor's
    vote and the counts, title suggestions), fetched after the page loads. Private and
    never stored, so the song page itself stays the same bytes for everyone."""

    def get(self, request: HttpRequest, song_id: int) -> HttpResponse:
        return _me_response(request, song_id)


class SongVoteView(View):
    """POST /song/<id>/vote, value=up|down|none."""

    def post(self, request: HttpRequest, song_id: int) -> HttpResponse:
        if not request.user.is_authenticated:
            return _sign_in_first(request, song_id)
        form = VoteForm(request.POST)
        if not form.is_valid():
            return _after_action(request, song_id, error="That is not a vote.", status=400)
        try:
            services.vote_cast(user=request.user, song_id=song_id, value=form.vote())
        except services.Unavailable:
            return _after_action(request, song_id, error="This song cannot be voted on.", status=410)
        return _after_action(request, song_id)


class TitleSuggestionCreateView(View):
    """POST /song/<id>/suggestions, title=..."""

    def post(self, request: HttpRequest, song_id: int) -> HttpResponse:
        if not request.user.is_authenticated:
            return _sign_in_first(request, song_id)
        form = TitleSuggestionForm(request.POST)
        if not form.is_valid():
            return _after_action(request, song_id, error=" ".join(form.errors["title"]), status=400)
        try:
            services.title_suggestion_create(user=request.user, song_id=song_id, text=form.cleaned_data["title"])
        except services.RateLimited as refused:
            return _after_action(request, song_id, error=str(refused), status=429)
        except services.Refused as refused:
            return _after_action(request, song_id, error=str(refused), status=400)
        except services.Unavailable:
            return _after_action(request, song_id, error="This song cannot get suggestions.", status=410)
        return _after_action(request, song_id)


class TitleSuggestionVoteView(View):
    """POST /suggestions/<suggestion id>/vote, value=up|down|none."""

    def post(self, request: HttpRequest, suggestion_id: int) -> HttpResponse:
        song_id = selectors.title_suggestion_song_id(suggestion_id=suggestion_id)
        if song_id is None:
            raise Http404("no such suggestion")
        if not request.user.is_authenticated:
            return _sign_in_first(request, song_id)
        form = VoteForm(request.POST)
        if not form.is_valid():
            return _after_action(request, song_id, error="That is not a vote.", status=400)
        try:
            services.title_suggestion_vote(user=request.user, suggestion_id=suggestion_id, value=form.vote())
        except services.Unavailable:
            return _after_action(request, song_id, error="This suggestion cannot be voted on.", status=410)
        return _after_action(request, song_id)


CHARTS = {
    # name: (heading, what it means, selector)
    "top": ("Top 10", "The highest net scores: votes up minus votes down.", selectors.chart_top),
    "rated": ("Best rated", ("Ranked by how sure we can be that listeners like them (the lower bound of the "
                             "Wilson score interval): one lucky vote does not beat 900 up and 100 down."),
              selectors.chart_best_rated),
    "week": ("This week", "The best net scores from votes cast in the last seven days.", selectors.chart_week),
}


class ChartView(View):
    """/top, /top/rated, /top/week: the same page for everyone, rendered without the
    request, kept CHART_CACHE_SECONDS in the Django cache and in public caches."""

    chart = "top"

    def get(self, request: HttpRequest) -> HttpResponse:
        seconds = settings.CHART_CACHE_SECONDS
        key = f"charts:{self.chart}:{settings.SONG_PAGE_CACHE_VERSION}"
        body = cache.get(key) if seconds else None
        if body is None:
            heading, about, select = CHARTS[self.chart]
            body = render_to_string("songs/chart.html", {
                "chart": self.chart, "page_title": heading, "heading": heading, "about": about,
                "entries": select(limit=10)}).encode()
            if seconds:
                cache.set(key, body, timeout=seconds)
        response = HttpResponse(body, content_type="text/html; charset=utf-8")
        if seconds:
            patch_cache_control(response, public=True, max_age=seconds)
        else:
            response["Cache-Control"] = "no-cache"
        return response


class MyVotesView(LoginRequiredMixin, View):
    """/top/mine: the visitor's own votes, latest first, 50 a page."""

    per_page = 50

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            page = max(1, int(request.GET.get("page", "1")))
        except ValueError:
            page = 1
        votes = selectors.user_votes(user=request.user, limit=self.per_page + 1, offset=(page - 1) * self.per_page)
        context = {"chart": "mine", "page_title": "My votes", "votes": votes[: self.per_page], "page": page,
                   "has_next": len(votes) > self.per_page, "start": (page - 1) * self.per_page + 1}
        return _private(render(request, "songs/my_votes.html", context))


class HealthView(View):
    """/healthz: a bare view (for load balancers, and the benchmark's baseline)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return _never_cache(HttpResponse(b"ok", content_type="text/plain"))
