"""Security headers on real pages: a CSP whose hashes cover every inlined script and style
(computed from the static files at start-up), a Permissions-Policy, HTTPS settings that
follow an https site URL, and nothing per visitor on a public song page."""

import base64
import hashlib
import os
import re
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.test import Client

from tests.support.songs import store

pytestmark = pytest.mark.django_db

INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def policy(response) -> dict[str, list[str]]:
    directives = (d.split() for d in response["Content-Security-Policy"].split(";"))
    return {d[0]: d[1:] for d in directives if d}


def assert_inline_allowed(response, html: str | None = None):
    csp = policy(response)
    assert "'unsafe-inline'" not in csp["script-src"] + csp["style-src"]
    found = INLINE.findall(html if html is not None else response.content.decode())
    assert found, "the page inlines nothing?"
    for kind, text in found:
        assert sha256(text) in csp[f"{kind}-src"], f"inline {kind} not allowed by the CSP"


def test_song_account_and_admin_pages_carry_a_csp_that_allows_their_inline_code(client, songs_runtime):
    store(7)
    song = client.get("/song/7")
    assert song.status_code == 200
    assert_inline_allowed(song)
    assert "camera=()" in song["Permissions-Policy"] and "geolocation=()" in song["Permissions-Policy"]
    for path in ("/accounts/login", "/accounts/signup", "/accounts/password/reset", "/song/99999999999999999999"):
        assert_inline_allowed(client.get(path))
    admin = client.get("/admin/login/")
    assert admin.status_code == 200 and policy(admin)["script-src"][0] == "'self'"
    assert not INLINE.findall(admin.content.decode())  # the admin's own scripts and styles are files
    # The streamed page of a new song ends with a literal <style> (songs/writing_end.html).
    for template in ("songs/writing_end.html", "songs/writing_broken.html"):
        assert_inline_allowed(song, render_to_string(template, {"song_id": 7}))


def test_the_policy_follows_the_static_files(client, songs_runtime, settings, tmp_path):
    # Hashes come from the files, at start-up: a changed script gets its new hash.
    (tmp_path / "songs").mkdir()
    (tmp_path / "songs" / "song.js").write_text("console.log('changed');\n")
    settings.STATICFILES_DIRS = [tmp_path, *settings.STATICFILES_DIRS]
    response = Client().get("/accounts/login")
    assert sha256("console.log('changed');\n") in policy(response)["script-src"]


def test_a_malformed_csrf_cookie_puts_no_cookie_on_a_public_page(songs_runtime):
    store(7)
    visitor = Client()
    visitor.cookies["csrftoken"] = "not-a-token!"
    page = visitor.get("/song/7")
    assert page.status_code == 200 and page["Cache-Control"].startswith("public")
    assert not page.cookies and "Set-Cookie" not in page.headers
    assert "cookie" not in page.get("Vary", "").lower()
    # A private page still replaces the bad cookie.
    login = visitor.get("/accounts/login")
    assert "no-cache" in login["Cache-Control"] and login.cookies["csrftoken"].value != "not-a-token!"


def test_a_sign_in_keeps_its_session_cookie(songs_runtime):
    User.objects.create_user("ann", password="a tune in the night 42")
    visitor = Client()
    visitor.cookies["csrftoken"] = "not-a-token!"
    response = visitor.post("/accounts/login", {"username": "ann", "password": "a tune in the night 42"})
    assert response.status_code == 302 and response.cookies["sessionid"].value


def production_settings(tmp_path, **env) -> dict:
    code = ("import json; from billion_songs.web.config.settings import production as p; print(json.dumps({k: "
            "getattr(p, k, None) for k in ('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
            "'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER', 'CSRF_TRUSTED_ORIGINS')}))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BILLION_SONGS_"))}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, "BILLION_SONGS_DATA_DIR": str(tmp_path), **env},
                         capture_output=True, text=True, check=True).stdout
    import json

    return json.loads(out)


def test_https_is_on_by_default_when_the_site_url_is_https(tmp_path):
    https = production_settings(tmp_path, BILLION_SONGS_SITE_URL="https://songs.example")
    assert https["SESSION_COOKIE_SECURE"] and https["CSRF_COOKIE_SECURE"] and https["SECURE_SSL_REDIRECT"]
    assert https["SECURE_HSTS_SECONDS"] >= 180 * 24 * 3600
    assert https["CSRF_TRUSTED_ORIGINS"] == ["https://songs.example"]
    assert https["SECURE_PROXY_SSL_HEADER"] is None  # no trusted proxy named: X-Forwarded-Proto is not believed
    behind = production_settings(tmp_path, BILLION_SONGS_SITE_URL="https://songs.example",
                                 BILLION_SONGS_TRUSTED_PROXIES="10.0.0.0/8")
    assert behind["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    plain = production_settings(tmp_path)
    assert not any((plain["SESSION_COOKIE_SECURE"], plain["CSRF_COOKIE_SECURE"], plain["SECURE_SSL_REDIRECT"],
                    plain["SECURE_HSTS_SECONDS"]))
    off = production_settings(tmp_path, BILLION_SONGS_SITE_URL="https://songs.example", DJANGO_SECURE_HSTS_SECONDS="0")
    assert off["SECURE_HSTS_SECONDS"] == 0 and off["SECURE_SSL_REDIRECT"]


def test_forwarded_proto_counts_only_from_a_trusted_proxy(settings, songs_runtime):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    proxied = Client(REMOTE_ADDR="10.0.0.1").get("/accounts/login", HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code == 200 and proxied["Strict-Transport-Security"] == "max-age=3600"
    direct = Client(REMOTE_ADDR="203.0.113.5").get("/accounts/login", HTTP_X_FORWARDED_PROTO="https")
    assert direct.status_code == 301 and direct["Location"].startswith("https://")


def test_a_public_response_that_sets_a_session_is_made_private_not_stripped(rf):
    from django.http import HttpResponse

    from billion_songs.web.config.middleware import PublicResponseMiddleware

    def view(request):
        response = HttpResponse("about one visitor")
        response["Cache-Control"] = "public, max-age=60"
        response["Vary"] = "Accept-Encoding, Cookie"
        response.set_cookie("sessionid", "abc")
        return response

    response = PublicResponseMiddleware(view)(rf.get("/"))
    assert response.cookies["sessionid"].value == "abc" and response["Cache-Control"] == "private, no-cache"
    assert "Cookie" in response["Vary"]
