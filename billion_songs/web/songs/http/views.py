"""Thin views: parse, ask the runtime, a selector or a service, answer with the right
cache headers.

The song views are async so that a cached page is answered on the event loop without a
hop to a worker thread, and a page being written streams without holding a thread. The
per-visitor views (the /me fragment, votes, title suggestions, My votes) are private and
never cached; votes run on threads of their own (offload.py), not queued behind Django's
one thread for synchronous views, the others are ordinary synchronous views. The charts
are public and cached briefly.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotFound,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.middleware.csrf import CSRF_TOKEN_LENGTH, get_token
from django.shortcuts import render, resolve_url
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views import View

from billion_songs.web.songs.data import selectors, services, tags, vote_counts
from billion_songs.web.songs.generation.admission import Refused
from billion_songs.web.songs.generation.flights import Broken
from billion_songs.web.songs.http import admission, charts, page_cache, pages
from billion_songs.web.songs.http.offload import offloaded, rendered
from billion_songs.web.songs.http.forms import TitleSuggestionForm, VoteForm
from billion_songs.web.songs.http.page_cache import never_cache
from billion_songs.web.songs.runtime import web as runtime


class SongView(View):
    """/song/<id>: the stored song, or the song streamed while it is first written, if
    admission control lets this visitor wait for a new song (else a 429/503 page)."""

    listening_request = True  # without a thread per request (config/short_requests.py)

    async def get(self, request: HttpRequest, song_id: int) -> HttpResponse:
        page = await page_cache.stored_page(request, song_id, "html")
        if page is not None:
            return page_cache.page_response(request, page)
        if request.method == "HEAD":  # a link checker: the page exists; nothing is written for it
            return never_cache(HttpResponse(content_type="text/html; charset=utf-8"))
        try:
            flight = await runtime.get().flights.admit(song_id, client=admission.admission_client(request))
        except Refused as refused:
            return admission.refused_response(refused, song_id=song_id, kind="html")
        stream = pages.writing_stream(flight=flight, song_id=song_id, site_url=page_cache.site_url(request))
        # Not cacheable: the bytes of a page being written differ from the stored page's.
        return never_cache(StreamingHttpResponse(stream, content_type="text/html; charset=utf-8"))


class SongApiView(View):
    """/api/songs/<id>: the song as JSON; a never-seen id is written first (single-flight)."""

    listening_request = True  # without a thread per request (config/short_requests.py)

    async def get(self, request: HttpRequest, song_id: int) -> HttpResponse:
        page = await page_cache.stored_page(request, song_id, "json")
        if page is None:
            try:
                flight = await runtime.get().flights.admit(song_id, client=admission.admission_client(request))
            except Refused as refused:
                return admission.refused_response(refused, song_id=song_id, kind="json")
            result = await flight.aresult()  # the visitor leaving cancels this, which gives its place back
            if isinstance(result, Broken):
                response = HttpResponse('{"error": "the song could not be written now; try again"}',
                                        status=503, content_type="application/json")
                return never_cache(response)
            page = await rendered(page_cache.render_and_cache, result.song, "json", page_cache.site_url(request))
        return page_cache.page_response(request, page)


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
            return never_cache(HttpResponseBadRequest(body))
        song_id = await runtime.get().random.apick(narrowing)
        return never_cache(HttpResponseRedirect(reverse("songs:detail", args=[song_id])))


def login_url_for(path: str) -> str:
    """The sign-in page, coming back to `path` afterwards."""
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': path}, safe='/')}"


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


def _me_response(request: HttpRequest, song_id: int, *, error: str = "", status: int = 200,
                 cast: services.VoteChange | None = None) -> HttpResponse:
    """The fragment; after a vote on the song (`cast`), with the counts it committed: the
    song was visible, and neither they nor the visitor's vote need reading again."""
    user = request.user
    song_path = reverse("songs:detail", args=[song_id])
    visibility = "ok" if cast is not None else selectors.song_visibility(song_id=song_id)
    context = {
        "song_id": song_id,
        "visibility": visibility,
        "user": user,
        "login_url": login_url_for(song_path),
        "error": error,
        "max_length": settings.TITLE_SUGGESTION_MAX_LENGTH,
    }
    if visibility == "ok":
        if cast is not None:
            votes = _votes_cast(cast)
        else:
            votes = vote_counts.song_vote_summary(song_id=song_id, user=user)
        suggestions = selectors.song_suggestions(song_id=song_id, user=user)
        context.update(votes=votes, suggestions=suggestions.listed, best=suggestions.best,
                       has_suggested=suggestions.has_suggested)
    return _private(render(request, "songs/me.html", context, status=status))


def _is_fragment(request: HttpRequest) -> bool:
    """A request from the page's script, which wants the refreshed /me fragment back
    (X-Fragment: me), or, after a vote on the song, its vote part (X-Fragment: votes)."""
    return request.headers.get("X-Fragment") in ("me", "votes")


def _votes_cast(cast: services.VoteChange) -> dict:
    """The template's `votes` after the visitor's vote: the counts it committed."""
    up, down = cast.counts
    return {"up": up, "down": down, "score": up - down, "mine": cast.after or None}


def _form_token(request: HttpRequest) -> str:
    """The CSRF token for the vote part's form: the masked token the vote itself carried,
    which CsrfViewMiddleware has just checked against this visitor's cookie, or a newly
    masked one (`get_token`) when the vote sent none in its form or an unmasked secret.
    Masking a new token draws 32 random characters: a tenth of a vote's CPU in the web
    process (bench/bench_votes.py). The part is private, never stored, and answers the
    visitor who sent that token."""
    sent = request.POST.get("csrfmiddlewaretoken", "")
    if len(sent) == CSRF_TOKEN_LENGTH:  # masked (an unmasked secret is half as long)
        return sent
    return get_token(request)


def _votes_response(request: HttpRequest, song_id: int, cast: services.VoteChange) -> HttpResponse:
    """The song's vote part after the visitor's vote, with the counts it committed."""
    # Without the context processors (the messages, the request): the part shows none of
    # what they give, and they cost more than the part itself.
    context = {"song_id": song_id, "user": request.user, "csrf_token": _form_token(request),
               "votes": _votes_cast(cast)}
    response = HttpResponse(render_to_string("songs/votes.html", context))
    response["X-Fragment"] = "votes"  # which part this is: the script replaces that one
    return _private(response)


def _after_action(request: HttpRequest, song_id: int, *, error: str = "", status: int = 200,
                  cast: services.VoteChange | None = None) -> HttpResponse:
    """The refreshed fragment for the page's script (only the vote part after a vote
    cast, when that is what it asked for); without JavaScript, back to the song (303: see
    other), with any error as a message that the fragment shows there."""
    if _is_fragment(request):
        if cast is not None and request.headers.get("X-Fragment") == "votes":
            return _votes_response(request, song_id, cast)
        response = _me_response(request, song_id, error=error, status=status, cast=cast)
        response["X-Fragment"] = "me"
        return response
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
    """POST /song/<id>/vote, value=up|down|none: on the vote threads (offload.py)."""

    short_request = True  # served without a thread per request (config/short_requests.py)

    async def post(self, request: HttpRequest, song_id: int) -> HttpResponse:
        return await _song_vote(request, song_id)


@offloaded
def _song_vote(request: HttpRequest, song_id: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return _sign_in_first(request, song_id)
    form = VoteForm(request.POST)
    if not form.is_valid():
        return _after_action(request, song_id, error="That is not a vote.", status=400)
    try:
        cast = services.vote_cast(user=request.user, song_id=song_id, value=form.vote())
    except services.Unavailable:
        return _after_action(request, song_id, error="This song cannot be voted on.", status=410)
    return _after_action(request, song_id, cast=cast)


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
    """POST /suggestions/<suggestion id>/vote, value=up|down|none: on the vote threads."""

    short_request = True

    async def post(self, request: HttpRequest, suggestion_id: int) -> HttpResponse:
        return await _suggestion_vote(request, suggestion_id)


@offloaded
def _suggestion_vote(request: HttpRequest, suggestion_id: int) -> HttpResponse:
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
    except services.Refused as refused:  # one's own suggestion
        return _after_action(request, song_id, error=str(refused), status=400)
    return _after_action(request, song_id)


class ChartView(View):
    """/top, /top/rated, /top/week: the same page for everyone, rendered without the
    request, kept CHART_CACHE_SECONDS in the Django cache and in public caches."""

    chart = "top"

    def get(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(charts.chart_page(self.chart), content_type="text/html; charset=utf-8")
        if settings.CHART_CACHE_SECONDS:
            patch_cache_control(response, public=True, max_age=settings.CHART_CACHE_SECONDS)
        else:
            response["Cache-Control"] = "no-cache"
        return response


class MyVotesView(LoginRequiredMixin, View):
    """/top/mine: the visitor's own votes, latest first, 50 a page. `?page=` is ASCII
    digits, 1 to max_page (400 otherwise, 404 past the cap): Python's int() would take
    "١٢٣", "+3" or "1_0", and a huge page overflowed the database's OFFSET (a 500)."""

    per_page = 50
    max_page = 10_000  # 500,000 votes back; keeps the OFFSET small

    def get(self, request: HttpRequest) -> HttpResponse:
        text = request.GET.get("page", "1")
        if not (text.isascii() and text.isdigit()) or int(text) == 0:
            return _private(HttpResponseBadRequest("Bad page number: ?page= takes 1, 2, 3 ...",
                                                   content_type="text/plain; charset=utf-8"))
        page = int(text)
        if page > self.max_page:
            return _private(HttpResponseNotFound(f"No such page: My votes has at most {self.max_page} pages.",
                                                 content_type="text/plain; charset=utf-8"))
        votes = selectors.user_votes(user=request.user, limit=self.per_page + 1, offset=(page - 1) * self.per_page)
        context = {"chart": "mine", "page_title": "My votes", "votes": votes[: self.per_page], "page": page,
                   "has_next": len(votes) > self.per_page, "start": (page - 1) * self.per_page + 1}
        return _private(render(request, "songs/my_votes.html", context))


class HealthView(View):
    """/healthz: a bare view (for load balancers, and the benchmark's baseline)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return never_cache(HttpResponse(b"ok", content_type="text/plain"))
