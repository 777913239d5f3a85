"""A real browser (Playwright driving Debian's Chromium) against the real server."""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager

import pytest

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.songwriting.plan import FORMS, brief_for
from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import Song

CHROMIUM = os.environ.get("BILLION_SONGS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")


@contextmanager
def phone_browser():
    # Playwright's sync API runs an event loop in this thread, where Django then refuses
    # database queries: tests touch the database only before and after this block.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                      is_mobile=True, has_touch=True)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def test_visitor_makes_random_reads_a_song_and_watches_a_new_one_being_written(asgi_server, songs_runtime, fake):
    from playwright.sync_api import expect

    pooled = [11, 22, 33]
    services.songs_store_for_pool(songs=FakeLyricsGenerator().generate(pooled))
    songs_runtime.pool.add(pooled)
    titles = {song_id: Song.objects.get(pk=song_id).title for song_id in pooled}
    # For the mood tags: two more songs of each pooled song's mood, and songs of other moods.
    moods = {brief_for(song_id).mood for song_id in pooled}
    same_mood = [i for mood in moods for i in [i for i in range(1000, 5000) if brief_for(i).mood == mood][:2]]
    other_moods = [i for i in range(5000, 5100) if brief_for(i).mood not in moods][:12]
    later = services.songs_store_for_pool(songs=FakeLyricsGenerator().generate(same_mood + other_moods))
    new_id = 2**64 - 1
    fake.line_delay = 0.3  # a model's pace, so that the writing can be watched

    with phone_browser() as page:
        # The site opens on a song from the pool.
        page.goto(f"{asgi_server}/")
        assert re.fullmatch(rf"{asgi_server}/song/(11|22|33)", page.url)
        first_id = int(page.url.rsplit("/", 1)[1])
        expect(page.locator("h1.title")).to_have_text(titles[first_id])

        # Make Random goes to another pooled song, which reads as a song: a title, stanzas.
        page.get_by_role("link", name="Make Random").first.click()
        page.wait_for_url(re.compile(r"/song/\d+$"))
        song_id = int(page.url.rsplit("/", 1)[1])
        assert song_id in pooled
        expect(page.locator("h1.title")).to_have_text(titles[song_id])
        brief = brief_for(song_id)
        assert page.locator(".lyrics p").count() == len(FORMS[brief.form])
        assert page.locator(".lyrics p").first.inner_text().count("\n") == 3  # four lines
        expect(page.locator("#me")).to_contain_text("Sign in to vote")  # the per-visitor part loaded
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # no sideways scrolling on a phone

        # Under the title, the song's brief as tags; each stanza says what it is.
        tags = page.get_by_role("list", name="About this song")
        expect(tags).to_be_visible()
        for text in (brief.genre, brief.mood, brief.topic, brief.form):
            expect(tags).to_contain_text(text)
        expect(page.get_by_role("heading", name="Chorus").first).to_be_visible()
        mood_tag = page.get_by_role("link", name=f"Mood: {brief.mood}", exact=True)
        expect(mood_tag).to_be_visible()

        # The mood tag is a Make Random narrowed to that mood: another song of the same mood.
        songs_runtime.pool.add(later)  # now the pool holds songs of other moods too
        mood_tag.click()
        page.wait_for_url(re.compile(r"/song/\d+$"))
        landed = int(page.url.rsplit("/", 1)[1])
        assert brief_for(landed).mood == brief.mood and landed in set(pooled) | set(same_mood)
        expect(page.get_by_role("link", name=f"Mood: {brief.mood}", exact=True)).to_be_visible()
        expect(page.locator("h1.title")).to_be_visible()

        # A never-seen id: its lines appear while it is being written.
        page.goto(f"{asgi_server}/song/{new_id}", wait_until="commit")
        draft = page.locator("#draft-1")
        expect(draft).to_contain_text(re.compile(r"\S"), timeout=3000)
        expect(page.locator(".writing .status")).to_be_visible()
        assert page.locator("h1.title").count() == 0  # not finished yet
        partial = draft.inner_text()
        expect(page.locator("h1.title")).to_be_visible(timeout=10_000)
        expect(page.locator(".writing")).to_be_hidden()
        finished_title = page.locator("h1.title").inner_text()
        assert len(partial) < len(page.locator(".song").inner_text())
        expect(page.locator("#me")).to_contain_text("Sign in to vote")

    stored = Song.objects.get(pk=new_id)
    assert finished_title == stored.title and partial.startswith(stored.title)
    assert fake.generated_ids == [new_id]


def test_visitor_signs_up_votes_suggests_a_title_and_the_public_page_never_changes(asgi_server, songs_runtime):
    """Sign up from a vote click, vote, change and withdraw the vote while the song moves
    in the Top 10, suggest a title that others vote up, sign out; the song page's bytes for an
    anonymous visitor stay the same throughout."""
    import threading
    import urllib.request

    from django.contrib.auth.models import User
    from django.db import connection
    from django.core.cache import cache
    from playwright.sync_api import expect

    from billion_songs.web.songs.data.models import TitleSuggestion, Vote

    a, b, c = 101, 102, 103  # c is the visitor's song
    for song in FakeLyricsGenerator().generate([a, b, c]):
        services.song_store(song=song)
    others = [User.objects.create_user(f"fan{i}", password="pw") for i in range(3)]
    for user in others:
        services.vote_cast(user=user, song_id=a, value=1)  # a: +3
    services.vote_cast(user=others[0], song_id=b, value=1)  # b: +1
    services.vote_cast(user=others[1], song_id=c, value=1)  # c: +1, after b on the tie
    title = Song.objects.get(pk=c).title
    song_url = f"{asgi_server}/song/{c}"

    def public_bytes() -> bytes:
        with urllib.request.urlopen(song_url) as response:  # no cookies: anonymous
            return response.read()

    before = public_bytes()

    def others_vote_up(text: str) -> None:
        # On a thread of its own: Playwright's sync API runs an event loop in this one,
        # where Django refuses database calls.
        def vote() -> None:
            made = TitleSuggestion.objects.get(text=text)
            for user in others:
                services.title_suggestion_vote(user=user, suggestion_id=made.pk, value=1)
            connection.close()

        helper = threading.Thread(target=vote)
        helper.start()
        helper.join(30)

    def chart_position() -> int | None:
        page.goto(f"{asgi_server}/top")
        ids = [int(i) for i in page.locator("ol.chart li").evaluate_all(
            "items => items.map(li => li.getAttribute('data-song-id'))")]
        return ids.index(c) + 1 if c in ids else None

    with phone_browser() as page:
        page.goto(song_url)
        me = page.locator("#me")
        expect(me).to_contain_text("Sign in to vote")
        assert chart_position() == 3

        # An anonymous click on vote: sign in (here: sign up), then back to the same song.
        page.goto(song_url)
        page.locator("#me a.vote-up").click()
        page.wait_for_url(re.compile(r"/accounts/login\?next=/song/103$"))
        page.get_by_role("link", name="Create an account").click()
        page.wait_for_url(re.compile(r"/accounts/signup\?next=/song/103$"))
        page.fill("#id_username", "newfan")
        page.fill("#id_password1", "a tune in the night 42")
        page.fill("#id_password2", "a tune in the night 42")
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url(song_url)
        expect(me).to_contain_text("Signed in as newfan")
        expect(page.locator("h1.title")).to_have_text(title)

        # Vote up: c climbs to +2, above b.
        me.locator("button.vote-up").click()
        expect(me.locator("button.vote-up")).to_have_attribute("aria-pressed", "true")
        expect(me.locator("button.vote-up")).to_have_text("▲ 2")
        assert chart_position() == 2

        # Change to down: 0, out of the chart. Then, without reloading, withdraw and vote
        # down again: each answer was the vote part alone, which replaced the old one (its
        # form works), and the rest of the fragment stayed.
        page.goto(song_url)
        me.locator("button.vote-down").click()
        expect(me.locator("button.vote-down")).to_have_attribute("aria-pressed", "true")
        expect(me).to_contain_text("you voted this down")
        me.get_by_role("button", name="Withdraw my vote").click()
        expect(me).to_contain_text("you have not voted")
        me.locator("button.vote-down").click()
        expect(me).to_contain_text("you voted this down")
        expect(me.locator("[data-part=votes]")).to_have_count(1)
        expect(me).to_contain_text("Title suggestions")
        expect(me).to_contain_text("Signed in as newfan")
        assert chart_position() is None

        # Withdraw: back to +1, third.
        page.goto(song_url)
        me.get_by_role("button", name="Withdraw my vote").click()
        expect(me).to_contain_text("you have not voted")
        assert chart_position() == 3

        # Up again, then a title suggestion: no vote buttons on one's own; once three other
        # listeners voted it up, it shows beside the title, escaped.
        page.goto(song_url)
        me.locator("button.vote-up").click()
        expect(me.locator("button.vote-up")).to_have_attribute("aria-pressed", "true")
        me.locator("#suggest-title").fill("Midnight <b>Train</b>")
        me.get_by_role("button", name="Suggest").click()
        suggestion = me.locator(".suggestions li").filter(has_text="Midnight <b>Train</b>")
        expect(suggestion).to_contain_text("(yours)")
        expect(suggestion.locator("button.vote-up")).to_have_count(0)
        others_vote_up("Midnight <b>Train</b>")
        page.goto(song_url)
        expect(page.locator("#suggested")).to_have_text("Listeners' title: Midnight <b>Train</b>")
        expect(page.locator("#suggested")).to_be_visible()
        assert page.locator("#suggested b").count() == 0  # text, not markup
        assert chart_position() == 2

        # Sign out from the song page: back on it, anonymous, the suggestion still beside the title.
        page.goto(song_url)
        me.get_by_role("button", name="Sign out").click()
        page.wait_for_url(song_url)
        expect(me).to_contain_text("Sign in to vote")
        expect(page.locator("#suggested")).to_contain_text("Midnight <b>Train</b>")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

    fan = User.objects.get(username="newfan")
    assert Vote.objects.get(user=fan, song_id=c).value == 1
    assert TitleSuggestion.objects.get(user=fan).score == len(others)
    assert public_bytes() == before  # from the page cache
    cache.clear()
    assert public_bytes() == before  # rendered again from the database
