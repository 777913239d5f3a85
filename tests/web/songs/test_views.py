"""Every page through Django's test client (the live-server tests repeat the ones that
depend on real HTTP: streaming, concurrency)."""

import json
import re
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.test import AsyncClient

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.interface import Finished, TextDelta
from billion_songs.core.song import MAX_SONG_ID
from billion_songs.core.song import Song as GeneratedSong
from billion_songs.core.songwriting.plan import FORMS, brief_for
from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.data.tags import PoolEntry

EVIL = '<script>alert("x")</script>'


def store(song_id: int, **changes) -> Song:
    song = FakeLyricsGenerator().generate([song_id])[0]
    return services.song_store(song=GeneratedSong(**{**song.__dict__, **changes}))


def async_get(path: str, **headers):
    """GET through the ASGI handler (as uvicorn serves it), body read in full."""

    async def get():
        response = await AsyncClient().get(path, headers=headers)
        body = b""
        if response.streaming:
            async for chunk in response.streaming_content:
                body += chunk
        else:
            body = response.content
        return response, body.decode()

    return async_to_sync(get)()


@pytest.mark.django_db
@pytest.mark.parametrize("song_id", [0, 12345, MAX_SONG_ID])
def test_stored_song_page(client, songs_runtime, song_id):
    song = store(song_id)
    response = client.get(f"/song/{song_id}")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"<h1 class=\"title\">{song.title}</h1>" in html
    for stanza in song.stanzas:
        assert stanza.replace("\n", "<br>") in html
    assert f'<meta property="og:title" content="{song.title}">' in html
    assert f'<meta property="og:url" content="https://songs.test/song/{song_id}">' in html
    assert f'<meta name="twitter:description" content="{" / ".join(song.first_lines)}">' in html
    assert 'name="viewport"' in html and "Make Random" in html
    assert songs_runtime.generator.generated_ids == []  # served from the database


@pytest.mark.django_db
def test_stored_song_page_is_publicly_cacheable_with_etag_and_304(client, songs_runtime):
    store(7)
    response = client.get("/song/7")
    assert response["Cache-Control"] == "public, max-age=300, s-maxage=600"
    etag = response["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
    assert "Set-Cookie" not in response and "Vary" not in response
    not_modified = client.get("/song/7", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == etag and not_modified["Cache-Control"].startswith("public")
    assert client.get("/song/7", HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.django_db
def test_song_page_is_the_same_bytes_for_every_visitor(client, songs_runtime):
    store(7)
    anonymous = client.get("/song/7", HTTP_USER_AGENT="phone")
    user = User.objects.create_user("ann", password="pw")
    services.vote_cast(user=user, song_id=7, value=1)
    client.force_login(user)
    signed_in = client.get("/song/7", HTTP_USER_AGENT="desktop")
    assert signed_in.content == anonymous.content
    assert signed_in["ETag"] == anonymous["ETag"]
    assert "Vary" not in signed_in and "Set-Cookie" not in signed_in
    assert b"ann" not in signed_in.content


@pytest.mark.django_db
def test_per_visitor_part_is_private_and_separate(client, songs_runtime):
    store(7)
    anonymous = client.get("/song/7/me")
    assert anonymous["Cache-Control"] == "private, no-store"
    assert b"Sign in to vote" in anonymous.content and b"/song/7" in anonymous.content
    user = User.objects.create_user("ann", password="pw")
    services.vote_cast(user=user, song_id=7, value=1)
    client.force_login(user)
    mine = client.get("/song/7/me").content.decode()
    assert "Signed in as ann" in mine and "you voted this up" in mine and "▲ 1" in mine
    assert 'data-src="/song/7/me"' in client.get("/song/7").content.decode()


@pytest.mark.django_db
def test_model_output_is_escaped_everywhere(client, songs_runtime):
    store(66, title=EVIL, lyrics=f"{EVIL}\nline two\n\n\"quoted\" & <b>bold</b>")
    html = client.get("/song/66").content.decode()
    assert "<script>alert" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert f'<meta property="og:title" content="{EVIL}"' not in html
    api = json.loads(client.get("/api/songs/66").content)
    assert api["title"] == EVIL  # JSON carries the text as it is; JSON is not HTML


@pytest.mark.django_db
@pytest.mark.parametrize("path", [
    "/song/abc", "/song/-1", "/song/18446744073709551616", "/song/99999999999999999999",
    "/song/007", "/song/1.5", "/song/", "/song/1e3", "/api/songs/18446744073709551616", "/nope",
])
def test_bad_ids_are_a_friendly_404(client, songs_runtime, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"No such song" in response.content and b"Make Random" in response.content
    assert songs_runtime.generator.generated_ids == []


@pytest.mark.django_db
def test_failed_song_is_a_friendly_page_offering_make_random(client, songs_runtime):
    failed = FakeLyricsGenerator(failing_ids=frozenset({13})).generate([13])[0]
    services.song_store(song=failed)
    response = client.get("/song/13")
    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"].startswith("public")
    assert "didn't come out right" in html and 'href="/random"' in html
    assert json.loads(client.get("/api/songs/13").content)["ok"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("song_id", [0, MAX_SONG_ID])
def test_api_returns_the_stored_song_with_the_same_caching(client, songs_runtime, song_id):
    song = store(song_id)
    response = client.get(f"/api/songs/{song_id}")
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=300, s-maxage=600"
    document = json.loads(response.content)
    assert document["id"] == str(song_id)  # a string: JavaScript numbers stop at 2**53
    assert (document["title"], document["lyrics"], document["model_version"]) == (song.title, song.lyrics, "fake-1")
    assert client.get(f"/api/songs/{song_id}", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


@pytest.mark.django_db(transaction=True)
def test_api_generates_a_never_seen_id_once(client, songs_runtime):
    first = json.loads(client.get(f"/api/songs/{MAX_SONG_ID}").content)
    again = json.loads(client.get(f"/api/songs/{MAX_SONG_ID}").content)
    assert first == again and first["id"] == str(MAX_SONG_ID)
    assert songs_runtime.generator.generated_ids == [MAX_SONG_ID]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("song_id", [0, MAX_SONG_ID])
def test_never_seen_id_streams_then_is_stored_and_served_from_the_database(songs_runtime, song_id):
    response, html = async_get(f"/song/{song_id}")
    assert response.status_code == 200 and response.streaming
    assert response["Cache-Control"] == "no-store"
    stored = Song.objects.get(pk=song_id)
    assert f"Writing song #{song_id}" in html
    assert f'<div class="draft" id="draft-1" aria-live="polite">{stored.title}\n' in html
    assert f'<h1 class="title">{stored.title}</h1>' in html
    assert html.rstrip().endswith("</html>")
    later, _ = async_get(f"/song/{song_id}")
    assert not later.streaming and later["Cache-Control"].startswith("public")
    assert songs_runtime.generator.generated_ids == [song_id]


@pytest.mark.django_db(transaction=True)
def test_streamed_text_is_escaped_and_restarts_hide_the_rejected_draft(songs_runtime):
    from billion_songs.core.interface import Restart

    class Evil(FakeLyricsGenerator):
        def stream(self, song_id):
            yield TextDelta(EVIL + "\n")
            yield Restart("too_short")
            song = self._song(song_id)
            yield TextDelta(song.title + "\n")
            yield Finished(GeneratedSong(**{**song.__dict__, "lyrics": EVIL}))

    songs_runtime.writer.generator = Evil()
    _, html = async_get("/song/31")
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert '</div><div class="draft" id="draft-2"' in html and "<style>#draft" not in html


@pytest.mark.django_db(transaction=True)
def test_engine_error_while_streaming_shows_a_retry_page_and_stores_nothing(songs_runtime):
    class Broken(FakeLyricsGenerator):
        def stream(self, song_id):
            yield TextDelta("half")
            raise RuntimeError("boom")

    songs_runtime.writer.generator = Broken()
    _, html = async_get("/song/5")
    assert "could not be written just now" in html and html.rstrip().endswith("</html>")
    assert not Song.objects.filter(pk=5).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/random"])
def test_make_random_redirects_to_a_pooled_song_and_is_never_cached(client, songs_runtime, path):
    for song_id in (1, 2, 3):
        store(song_id)
    songs_runtime.pool.add([1, 2, 3])
    response = client.get(path)
    assert response.status_code == 302 and response["Cache-Control"] == "no-store"
    assert response["Location"] in {"/song/1", "/song/2", "/song/3"}
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_make_random_with_a_dry_pool_serves_a_stored_song_without_generating(client, songs_runtime):
    store(MAX_SONG_ID)
    songs_runtime.generator.generated_ids.clear()
    assert client.get("/random")["Location"] == f"/song/{MAX_SONG_ID}"
    assert songs_runtime.generator.generated_ids == []


@pytest.mark.django_db
def test_make_random_visits_voted_up_songs(client, songs_runtime, settings):
    settings.RANDOM_VOTED_SHARE = 1.0
    songs_runtime.random.voted_share = 1.0
    store(5)
    songs_runtime.pool.add([1])
    services.vote_cast(user=User.objects.create(username="ann"), song_id=5, value=1)
    assert client.get("/random")["Location"] == "/song/5"


@pytest.mark.django_db
def test_health_is_a_bare_answer(client):
    response = client.get("/healthz")
    assert response.content == b"ok" and response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_song_page_shows_the_brief_as_tags_and_a_caption_per_stanza(client, songs_runtime):
    song_id = next(i for i in range(1000) if brief_for(i).genre == "sea shanty")  # a space: URL-encoded
    song = store(song_id)
    brief = brief_for(song_id)
    html = client.get(f"/song/{song_id}").content.decode()
    assert '<ul class="tags" aria-label="About this song">' in html
    assert (f'<a class="tag" data-tag="genre" href="/random?genre=sea%20shanty" title="Make Random: another sea '
            f'shanty song"><span class="visually-hidden">Genre: </span>sea shanty</a>') in html
    assert f'href="/random?mood={quote(brief.mood, safe="")}"' in html and f"</span>{brief.mood}</a>" in html
    assert f"</span>{brief.topic}</span>" in html and f"</span>{brief.form}</span>" in html
    captions = re.findall(r'<h2 class="stanza-kind">(\w+)</h2><p>', html)
    assert captions == [kind.title() for kind in FORMS[brief.form]] and "Chorus" in captions
    for stanza in song.stanzas:
        assert stanza.replace("\n", "<br>") in html
    assert html.index('class="title"') < html.index('class="tags"') < html.index('class="lyrics"')


@pytest.mark.django_db
def test_tags_are_escaped_and_url_encoded(client, songs_runtime):
    Song.objects.create(id=5, title="T", lyrics="a\nb", model_version="v", genre="R&B", mood=EVIL, topic=EVIL)
    html = client.get("/song/5").content.decode()
    assert "<script>alert" not in html
    assert 'href="/random?genre=R%26B"' in html and "</span>R&amp;B</a>" in html
    assert 'href="/random?mood=%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E"' in html


@pytest.mark.django_db
def test_a_song_stored_before_briefs_renders_without_tags_or_captions(client, songs_runtime):
    # A row as older versions stored it: blank brief and sections.
    Song.objects.create(id=9, title="Old Song", lyrics="one\ntwo\n\nthree\nfour", model_version="old-1")
    response = client.get("/song/9")
    html = response.content.decode()
    assert response.status_code == 200 and '<h1 class="title">Old Song</h1>' in html
    assert '<ul class="tags"' not in html and '<h2 class="stanza-kind">' not in html
    assert "<p>one<br>two</p>" in html and "<p>three<br>four</p>" in html
    document = json.loads(client.get("/api/songs/9").content)
    assert document["brief"] is None and document["sections"] == []


@pytest.mark.django_db
def test_api_has_the_brief_and_the_sections(client, songs_runtime):
    generated = FakeLyricsGenerator().generate([321])[0]
    store(321)
    document = json.loads(client.get("/api/songs/321").content)
    assert document["brief"] == brief_for(321).as_dict() == generated.brief.as_dict()
    assert document["sections"] == [{"kind": s.kind, "lines": list(s.lines)} for s in generated.sections]
    assert "\n\n".join("\n".join(s["lines"]) for s in document["sections"]) == document["lyrics"]


@pytest.mark.django_db
def test_make_random_narrowed_by_mood_and_genre(client, songs_runtime):
    ids = list(range(40))
    for song_id in ids:
        store(song_id)
    songs_runtime.pool.add([PoolEntry(i, brief_for(i).genre, brief_for(i).mood) for i in ids])
    mood, genre = brief_for(0).mood, brief_for(0).genre
    for _ in range(10):
        location = client.get(f"/random?mood={quote(mood)}")["Location"]
        assert brief_for(int(location.rsplit("/", 1)[1])).mood == mood
    for _ in range(5):
        song_id = int(client.get(f"/?genre={quote(genre)}&mood={quote(mood)}")["Location"].rsplit("/", 1)[1])
        assert (brief_for(song_id).genre, brief_for(song_id).mood) == (genre, mood)
    response = client.get(f"/random?mood={quote(mood.upper())}%20&utm_source=x")  # case and spaces forgiven
    assert response.status_code == 302 and brief_for(int(response["Location"].rsplit("/", 1)[1])).mood == mood
    assert songs_runtime.generator.generated_ids == []  # nothing was written, nothing waited


@pytest.mark.django_db
@pytest.mark.parametrize("query, kind", [("mood=hangry", "mood"), ("genre=polka&mood=sad", "genre"),
                                         ("mood=%3Cb%3Ebold%3C%2Fb%3E", "mood")])
def test_make_random_with_an_unknown_tag_is_a_400_page(client, songs_runtime, query, kind):
    response = client.get(f"/random?{query}")
    html = response.content.decode()
    assert response.status_code == 400 and response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert f"<h1>No such {kind}</h1>" in html and "<b>bold" not in html
    assert 'href="/random?mood=sad"' in html or 'href="/random?genre=folk"' in html  # the known values
    assert "Make Random" in html
