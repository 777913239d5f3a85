"""Hidden songs leave caches soon: short public lifetimes (revalidation by ETag is cheap,
and it accepts the weak ETags a gzipping proxy sends back), and a CDN purge hook that
hiding calls."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils.cache import get_max_age

from billion_songs.web.songs.data import services
from billion_songs.web.songs.http import cdn_purge
from tests.support.songs import store

pytestmark = pytest.mark.django_db


def _directives(response) -> dict[str, str]:
    return dict((part.strip().split("=") + [""])[:2] for part in response["Cache-Control"].split(","))


@pytest.mark.parametrize("path", ["/song/7", "/api/songs/7"])
def test_song_pages_are_kept_minutes_not_months_and_revalidate_by_etag(client, songs_runtime, path):
    store(7)
    response = client.get(path)
    directives = _directives(response)
    assert "public" in directives and response["ETag"]
    assert get_max_age(response) <= 300  # browsers
    assert int(directives["s-maxage"]) <= 600  # shared caches (a CDN) that nobody purges
    assert client.get(path, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


@pytest.mark.parametrize("header", [
    'W/"{etag}"',  # nginx's gzip turns the ETag weak, and the browser sends that back
    '"other", W/"{etag}"',
    'W/"other" , "{etag}"',
])
def test_weak_etags_are_accepted_in_if_none_match(client, songs_runtime, header):
    store(7)
    etag = client.get("/song/7")["ETag"].strip('"')
    not_modified = client.get("/song/7", HTTP_IF_NONE_MATCH=header.format(etag=etag))
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == f'"{etag}"'
    assert client.get("/song/7", HTTP_IF_NONE_MATCH='W/"other"').status_code == 200
    assert client.get("/song/7", HTTP_IF_NONE_MATCH=f'W/"{etag}x"').status_code == 200


class _CdnRecorder(BaseHTTPRequestHandler):
    received: list[tuple[str, str]] = []
    arrived = threading.Condition()

    def do_PURGE(self):  # noqa: N802  (the method's name)
        with self.arrived:
            self.received.append((self.command, self.path))
            self.arrived.notify_all()
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_cdn():
    """A real HTTP server on loopback that records the PURGE requests it gets."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CdnRecorder)
    _CdnRecorder.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _wait_for(count: int) -> list[tuple[str, str]]:
    with _CdnRecorder.arrived:
        _CdnRecorder.arrived.wait_for(lambda: len(_CdnRecorder.received) >= count, timeout=10)
        return sorted(_CdnRecorder.received)


def test_hiding_a_song_purges_its_pages_from_the_cdn(fake_cdn, settings, songs_runtime,
                                                       django_capture_on_commit_callbacks):
    settings.SONG_CDN_PURGE = f"http://127.0.0.1:{fake_cdn.server_port}{{path}}?id={{id}}"
    store(7, 8)
    with django_capture_on_commit_callbacks(execute=True):
        services.songs_hide(song_ids=[7])
    assert _wait_for(5) == sorted(("PURGE", f"{path}?id=7") for path in
                                  ("/song/7", "/api/songs/7", "/song/7.mid", "/song/7.kar", "/song/7.abc"))
    with django_capture_on_commit_callbacks(execute=True):
        services.songs_hide(song_ids=[7], hidden=False)  # shown again: the "removed" page goes too
    assert len(_wait_for(10)) == 10


purged: list[dict] = []


def record_purge(**pages) -> None:
    """A callable hook, named by its dotted path in SONG_CDN_PURGE."""
    purged.append(pages)


def test_a_callable_hook_gets_the_paths_and_absolute_urls(settings):
    settings.SONG_CDN_PURGE = f"{__name__}.record_purge"
    purged.clear()
    cdn_purge.purge(song_ids=[7]).join(10)
    paths = ["/song/7", "/api/songs/7", "/song/7.mid", "/song/7.kar", "/song/7.abc"]
    assert purged == [{"paths": paths, "urls": [f"{settings.SITE_URL}{path}" for path in paths]}]


def test_no_hook_by_default_does_nothing(settings):
    settings.SONG_CDN_PURGE = ""
    assert cdn_purge.purge(song_ids=[7]) is None


def test_a_failing_cdn_never_reaches_the_moderator(settings, songs_runtime, django_capture_on_commit_callbacks):
    settings.SONG_CDN_PURGE = "http://127.0.0.1:9/{path}"  # discard port: nothing listens
    store(7)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.songs_hide(song_ids=[7]) == 1
