"""A song's tune in a real browser (Playwright driving Debian's Chromium) against the real
server: Play, the words lit up as they are sung, the sheet music drawn by abcjs (fetched
from the npm registry on first use and served by the site), the .kar download."""

from __future__ import annotations

import io
import urllib.error
import urllib.request

import mido
import pytest

from billion_songs.core.melody.kar import lyric_events
from billion_songs.web.songs.data.models import Song
from billion_songs.web.songs.http import abcjs
from tests.support.songs import store
from tests.web.test_browser import phone_browser
from tests.web.test_browser import pytestmark  # noqa: F401  (the same skip when there is no Chromium)

SONG_ID = 4_000_000_000_000_000_001


def _abcjs_available(server: str) -> bool:
    # The first request fetches abcjs from the npm registry into the cache directory.
    try:
        with urllib.request.urlopen(f"{server}/melody/abcjs-{abcjs.VERSION}.min.js", timeout=60) as response:
            return response.status == 200
    except urllib.error.HTTPError:
        return False


def test_visitor_plays_the_tune_follows_the_words_reads_the_music_and_downloads_the_kar(
        asgi_server, songs_runtime, tmp_path):
    from playwright.sync_api import expect

    store(SONG_ID)
    lyrics = Song.objects.get(pk=SONG_ID).lyrics
    notation = _abcjs_available(str(asgi_server))

    with phone_browser() as page:
        violations = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{asgi_server}/song/{SONG_ID}")
        tune = page.locator("[data-tune]")
        play = page.get_by_role("button", name="Play")
        expect(play).to_be_visible()
        assert tune.get_attribute("data-audio") is None  # nothing plays before a click
        assert page.evaluate("document.querySelectorAll('.lyrics .w.sung').length") == 0

        # Play: the audio clock runs and the highlight moves across the words, in order.
        play.click()
        expect(tune).to_have_attribute("data-audio", "running")
        expect(page.get_by_role("button", name="Pause")).to_have_attribute("aria-pressed", "true")
        page.get_by_label("Tempo").fill("150")  # keep the test short
        seen = page.evaluate("""() => new Promise(resolve => {
            const seen = [];
            const timer = setInterval(() => {
                const word = document.querySelector('.lyrics .w.sung');
                if (word && seen[seen.length - 1] !== word.dataset.w) seen.push(word.dataset.w);
                if (seen.length >= 4) { clearInterval(timer); resolve(seen); }
            }, 20);
            setTimeout(() => { clearInterval(timer); resolve(seen); }, 15000);
        })""")
        numbers = [int(n) for n in seen]
        assert len(numbers) >= 4 and numbers == sorted(numbers), seen
        assert page.locator(f'.lyrics [data-w="{numbers[1]}"]').inner_text() == lyrics.split()[numbers[1]]

        # Pause stops the clock's words where they are; the keyboard works the buttons.
        page.get_by_role("button", name="Pause").press("Enter")
        expect(tune).to_have_attribute("data-state", "paused")
        expect(page.locator("[data-status]")).to_have_text("Paused")
        page.get_by_role("button", name="Restart").press("Enter")
        expect(page.locator("[data-status]")).to_have_text("Back to the start")

        # The karaoke file: one lyric event per syllable, the page's words.
        with page.expect_download() as download_info:
            page.get_by_role("link", name="karaoke (.kar)").click()
        download = download_info.value
        assert download.suggested_filename == f"song-{SONG_ID}.kar"
        path = tmp_path / "song.kar"
        download.save_as(path)
        data = path.read_bytes()
        assert mido.MidiFile(file=io.BytesIO(data)).tracks[1].name == "Words"
        words = "".join(e.replace("\\", " ").replace("/", " ") for e in lyric_events(data)).split()
        assert words == lyrics.split()

        # The sheet music: abcjs draws the tune with the lyrics under the notes.
        page.locator("[data-abc]").scroll_into_view_if_needed()
        if not notation:  # no registry: the page keeps the ABC text (all else is checked above)
            expect(tune).to_have_attribute("data-notation-drawn", "false", timeout=20_000)
            expect(page.locator("[data-abc]")).to_be_visible()
            assert not [v for v in violations if "script-src" in v], violations
            pytest.skip("abcjs could not be fetched from the npm registry: sheet music not checked")
        expect(tune).to_have_attribute("data-notation-drawn", "true", timeout=20_000)
        svg = page.locator("[data-notation] svg").first
        expect(svg).to_be_visible()
        sung = page.evaluate("Array.from(document.querySelectorAll('[data-notation] .abcjs-lyric'),"
                             " e => e.textContent)")
        assert len(sung) > 20  # a text element per syllable ("ri-" "ver")
        assert "".join(sung).replace("-", "").startswith("".join(lyrics.split()[:3]))
        expect(page.locator("[data-abc-details]")).not_to_have_attribute("open", "")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone

        assert not [v for v in violations if "script-src" in v], violations


def test_a_song_written_while_the_visitor_waits_gets_its_player(asgi_server, songs_runtime):
    """The streamed page of a never-seen id ends with the finished song and its tune."""
    from playwright.sync_api import expect

    with phone_browser() as page:
        page.goto(f"{asgi_server}/song/{SONG_ID + 1}")
        expect(page.locator("h1.title")).to_be_visible(timeout=10_000)
        page.get_by_role("button", name="Play").click()
        expect(page.locator("[data-tune]")).to_have_attribute("data-audio", "running")
        expect(page.locator(".lyrics .w.sung")).to_have_count(1, timeout=10_000)
