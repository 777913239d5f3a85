"""A real browser (Playwright driving Debian's Chromium) against the real server."""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager

import pytest

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.web.songs import services
from billion_songs.web.songs.models import Song

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
        assert page.locator(".lyrics p").count() == 2
        assert page.locator(".lyrics p").first.inner_text().count("\n") == 3  # four lines
        expect(page.locator("#me")).to_contain_text("Sign in to vote")  # the per-visitor part loaded
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # no sideways scrolling on a phone

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
