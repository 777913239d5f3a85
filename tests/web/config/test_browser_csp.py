"""Chromium under the site's Content-Security-Policy: the inlined script runs, the inlined
styles apply, and no page (a song, one being written, the account pages, the admin)
reports a single violation."""

from __future__ import annotations

import re
import shutil

import pytest
from django.contrib.auth.models import User

from tests.support.songs import store
from tests.web.test_browser import CHROMIUM, phone_browser

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")

# Runs before any page script: collects every CSP violation the page reports.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def test_pages_work_under_the_csp(asgi_server, songs_runtime, fake):
    from playwright.sync_api import expect

    store(7)
    User.objects.create_superuser("boss", password="a tune in the night 42")
    fake.line_delay = 0.05
    new_id = 2**64 - 2
    failing_id = 2**64 - 3
    fake.failing_ids = frozenset({failing_id})

    with phone_browser() as page:
        page.add_init_script(RECORD_VIOLATIONS)
        console = []
        page.on("console", lambda message: console.append(message.text))

        def violations() -> list[str]:
            return page.evaluate("window.__violations") + [t for t in console if "Content Security Policy" in t]

        response = page.goto(f"{asgi_server}/song/7")
        assert "sha256-" in response.headers["content-security-policy"]
        expect(page.locator("#me")).to_contain_text("Sign in to vote")  # song.js ran and fetched /me
        # site.css applied: the header is laid out as a flex row by the stylesheet.
        assert page.evaluate("getComputedStyle(document.querySelector('header.site')).display") == "flex"
        assert violations() == []

        page.goto(f"{asgi_server}/song/{new_id}")  # streamed, ends with an inline <style>
        expect(page.locator("h1.title")).to_be_visible(timeout=10_000)
        expect(page.locator(".writing")).to_be_hidden()
        assert violations() == []

        # A song whose draft is thrown away: the page hides the draft with an inline style.
        page.goto(f"{asgi_server}/song/{failing_id}")
        expect(page.locator("#draft-1")).to_be_hidden(timeout=10_000)
        assert violations() == []

        for path in ("/accounts/signup", "/accounts/password/reset", "/accounts/login"):
            page.goto(f"{asgi_server}{path}")
            assert violations() == [], path
        page.fill("input[name=username]", "boss")
        page.fill("input[name=password]", "a tune in the night 42")
        page.get_by_role("button", name=re.compile("Sign in", re.I)).click()
        page.wait_for_url(re.compile(r"/accounts/profile$"))
        assert violations() == []

        page.goto(f"{asgi_server}/admin/")
        expect(page.get_by_role("link", name=re.compile("Users"))).to_be_visible()
        page.get_by_role("link", name=re.compile("Users")).first.click()
        expect(page.get_by_role("link", name="boss")).to_be_visible()
        assert page.evaluate("getComputedStyle(document.querySelector('#header')).display") != "inline"  # admin CSS
        assert violations() == []
