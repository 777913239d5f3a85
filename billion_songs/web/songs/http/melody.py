"""The tune downloads of a stored song, /song/<id>.mid, .kar and .abc, and the sheet-music
renderer (abcjs) the song page loads.

The downloads follow the song page's caching rules: public, the same max-ages, a strong
ETag and 304s (page_cache.page_response); a hidden song's are 410s, purged from the cache
with its pages. An id that was never written, a failed song, or an id that is not a song
id (a converter mismatch) is a 404; no download writes a song.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from django.views import View

from billion_songs.web.songs.data import reading, selectors
from billion_songs.web.songs.http import abcjs, page_cache, tune_files
from billion_songs.web.songs.http.offload import rendered
from billion_songs.web.songs.http.page_cache import never_cache

ABCJS_MAX_AGE = 365 * 24 * 3600  # its URL names its version: the bytes never change
ABCJS_ETAG = f'"abcjs-{abcjs.VERSION}"'  # the bytes are pinned by their integrity hash


class TuneFileView(View):
    """/song/<id>.mid (melody, chords, tempo, key and time signature), /song/<id>.kar
    (the same plus a Words track, one lyric event per syllable), /song/<id>.abc."""

    kind = "mid"
    listening_request = True  # without a thread per request (config/short_requests.py)

    async def get(self, request: HttpRequest, song_id: int) -> HttpResponse:
        page = tune_files.file_cached(self.kind, song_id)
        if page is None:
            song = await reading.read(selectors.song_get, song_id=song_id)
            if song is None:
                raise Http404("no such song")
            page = await rendered(tune_files.file_render_and_cache, song, self.kind)  # not on the loop
            if page is None:
                raise Http404("this song has no tune")
        response = page_cache.page_response(request, page)
        if page.status == 200:
            response["Content-Disposition"] = f'attachment; filename="{tune_files.download_name(song_id, self.kind)}"'
        return response


class AbcjsView(View):
    """The abcjs browser build (http/abcjs.py), fetched and checked on first use; a 404
    while it cannot be fetched (the page then keeps the ABC text)."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        # Not thread_sensitive: a first download must not hold up the database thread.
        script = abcjs.loaded() or await sync_to_async(abcjs.script, thread_sensitive=False)()
        if script is None:
            return never_cache(HttpResponse("abcjs is not available now.\n", status=404,
                                            content_type="text/plain; charset=utf-8"))
        if request.headers.get("If-None-Match") == ABCJS_ETAG:
            response = HttpResponseNotModified()
        else:
            response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
        response["ETag"] = ABCJS_ETAG
        patch_cache_control(response, public=True, max_age=ABCJS_MAX_AGE, immutable=True)
        return response
