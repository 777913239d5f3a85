"""Accounts through Django's test client: sign up, sign in and its throttle, ?next=,
sign out, password change and reset, the profile, CSRF on every form."""

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "a tune in the night 42"


@pytest.fixture
def ann():
    return User.objects.create_user("ann", email="ann@example.com", password=PASSWORD)


def sign_in(client, username="ann", password=PASSWORD, next_url="", **extra):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login", data, **extra)


def test_sign_up_signs_in_and_goes_back_to_next(client):
    page = client.get("/accounts/signup?next=/song/7")
    assert page.status_code == 200 and b'name="csrfmiddlewaretoken"' in page.content
    assert b'name="next" value="/song/7"' in page.content
    response = client.post("/accounts/signup", {"username": "bob", "email": "", "password1": PASSWORD,
                                                "password2": PASSWORD, "next": "/song/7"})
    assert response.status_code == 302 and response["Location"] == "/song/7"
    assert client.get("/accounts/profile").status_code == 200
    assert User.objects.get(username="bob").check_password(PASSWORD)


def test_sign_up_refuses_weak_passwords_and_taken_names(client, ann):
    weak = client.post("/accounts/signup", {"username": "cy", "password1": "123", "password2": "123"})
    assert weak.status_code == 200 and b"too short" in weak.content
    taken = client.post("/accounts/signup", {"username": "ANN", "password1": PASSWORD, "password2": PASSWORD})
    assert b"already exists" in taken.content
    assert User.objects.count() == 1


@pytest.mark.parametrize("next_url, expected", [
    ("/song/42", "/song/42"),
    ("/top?x=1", "/top?x=1"),
    ("https://evil.example/steal", "/accounts/profile"),
    ("//evil.example/steal", "/accounts/profile"),
    ("/\\evil.example", "/accounts/profile"),
    ("javascript:alert(1)", "/accounts/profile"),
    ("", "/accounts/profile"),
])
def test_next_only_redirects_within_this_site(client, ann, next_url, expected):
    response = sign_in(client, next_url=next_url)
    assert response.status_code == 302 and response["Location"] == expected


def test_next_on_sign_up_is_checked_too(client):
    response = client.post("/accounts/signup", {"username": "bob", "password1": PASSWORD, "password2": PASSWORD,
                                                "next": "https://evil.example/"})
    assert response["Location"] == "/accounts/profile"
    assert b"evil" not in Client().get("/accounts/signup?next=https://evil.example/").content


def test_sign_in_page_keeps_next_for_the_sign_up_link(client):
    html = client.get("/accounts/login?next=/song/5").content.decode()
    assert 'name="next" value="/song/5"' in html and 'href="/accounts/signup?next=/song/5"' in html
    assert client.get("/accounts/login")["Cache-Control"].startswith("max-age=0")  # never cached


def test_every_form_needs_its_csrf_token(ann):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/accounts/login", {"username": "ann", "password": PASSWORD}).status_code == 403
    assert strict.post("/accounts/signup", {"username": "x", "password1": PASSWORD, "password2": PASSWORD}).status_code == 403
    assert strict.post("/accounts/password/reset", {"email": "ann@example.com"}).status_code == 403
    page = strict.get("/accounts/login")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert strict.post("/accounts/login", {"username": "ann", "password": PASSWORD,
                                           "csrfmiddlewaretoken": token}).status_code == 302


def test_failed_sign_ins_are_throttled_even_for_the_right_password(client, ann, settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        assert sign_in(client, password="wrong").status_code == 200
    blocked = sign_in(client)
    assert blocked.status_code == 429 and b"Too many failed sign-ins" in blocked.content
    assert "_auth_user_id" not in client.session
    other = Client(REMOTE_ADDR="10.0.0.9")  # another address is not blocked
    assert sign_in(other).status_code == 302


def test_the_admin_sign_in_is_throttled_too(ann, settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 2
    ann.is_staff = ann.is_superuser = True
    ann.save()
    client = Client()
    for _ in range(2):
        client.post("/admin/login/", {"username": "ann", "password": "wrong"})
    response = client.post("/admin/login/?next=/admin/", {"username": "ann", "password": PASSWORD})
    assert response.status_code == 200 and b"Too many failed sign-ins" in response.content
    assert client.get("/admin/").status_code == 302  # still signed out


def test_a_successful_sign_in_clears_the_count(client, ann, settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(2):
        sign_in(client, password="wrong")
    assert sign_in(client).status_code == 302
    client.post("/accounts/logout")
    for _ in range(2):
        sign_in(client, password="wrong")
    assert sign_in(client).status_code == 302


def test_sign_out_is_post_only_and_goes_back_to_a_safe_next(client, ann):
    client.force_login(ann)
    assert client.get("/accounts/logout").status_code == 405
    response = client.post("/accounts/logout", {"next": "/song/3"})
    assert response["Location"] == "/song/3"
    assert client.get("/accounts/profile")["Location"] == "/accounts/login?next=/accounts/profile"
    client.force_login(ann)
    assert client.post("/accounts/logout", {"next": "https://evil.example/"})["Location"] == "/"


def test_password_change(client, ann):
    client.force_login(ann)
    assert "no-store" in client.get("/accounts/password")["Cache-Control"]
    response = client.post("/accounts/password", {"old_password": PASSWORD, "new_password1": "another tune 77",
                                                  "new_password2": "another tune 77"})
    assert response["Location"] == "/accounts/password/changed"
    ann.refresh_from_db()
    assert ann.check_password("another tune 77")
    assert client.get("/accounts/profile").status_code == 200  # still signed in


def test_password_reset_by_mail_with_the_site_url(client, ann):
    response = client.post("/accounts/password/reset", {"email": "ann@example.com"})
    assert response["Location"] == "/accounts/password/reset/sent"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann@example.com"]
    link = re.search(r"https://songs\.test(/accounts/password/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "brand new song 9", "new_password2": "brand new song 9"})
    assert done["Location"] == "/accounts/password/reset/done"
    ann.refresh_from_db()
    assert ann.check_password("brand new song 9")
    assert b"expired" in client.get(link, follow=True).content  # used once


def test_password_reset_mails_are_limited_per_address(client, ann, settings):
    settings.PASSWORD_RESETS_PER_ADDRESS_PER_HOUR = 2
    for _ in range(4):
        assert client.post("/accounts/password/reset", {"email": "ann@example.com"}).status_code == 302
    assert len(mail.outbox) == 2


def test_sign_ups_are_limited_per_address(client, settings):
    settings.SIGNUPS_PER_ADDRESS_PER_HOUR = 1
    assert client.post("/accounts/signup", {"username": "a1", "password1": PASSWORD, "password2": PASSWORD}).status_code == 302
    client.post("/accounts/logout")
    response = client.post("/accounts/signup", {"username": "a2", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 429 and not User.objects.filter(username="a2").exists()


def test_profile_shows_activity_and_saves_the_email(client, ann):
    assert client.get("/accounts/profile")["Location"].startswith("/accounts/login")
    client.force_login(ann)
    page = client.get("/accounts/profile")
    assert b"ann" in page.content and b"0 up votes" in page.content
    assert "private" in page["Cache-Control"] or "no-store" in page["Cache-Control"]
    client.post("/accounts/profile", {"email": "new@example.com"})
    ann.refresh_from_db()
    assert ann.email == "new@example.com"


def reset(client, host="testserver"):
    return client.post("/accounts/password/reset", {"email": "ann@example.com"}, HTTP_HOST=host)


def test_a_public_bind_without_a_site_url_sends_no_reset_mail(client, ann, settings):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["*"]  # what `serve --host 0.0.0.0` sets without DJANGO_ALLOWED_HOSTS
    page = client.get("/accounts/password/reset", HTTP_HOST="attacker.example")
    assert page.status_code == 200 and b"switched off" in page.content
    response = reset(client, host="attacker.example")
    assert response.status_code == 503 and b"BILLION_SONGS_SITE_URL" in response.content
    assert mail.outbox == []


def test_the_reset_link_uses_the_site_url_whatever_the_host(client, ann, settings):
    settings.SITE_URL = "https://songs.example"
    settings.ALLOWED_HOSTS = ["*"]
    assert reset(client, host="attacker.example")["Location"] == "/accounts/password/reset/sent"
    body = mail.outbox[0].body
    assert "https://songs.example/accounts/password/reset/" in body and "attacker" not in body


def test_without_a_site_url_only_an_allowed_host_makes_the_link(client, ann, settings):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["songs.example"]
    assert reset(client, host="attacker.example").status_code == 400  # Django refuses the Host
    assert mail.outbox == []
    assert reset(client, host="songs.example").status_code == 302
    assert "http://songs.example/accounts/password/reset/" in mail.outbox[0].body


def test_sign_in_counts_the_visitor_behind_a_trusted_proxy(ann, settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 2
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    for forged in ("1.1.1.1", "2.2.2.2"):  # rotating the visitor's own part of the header does not help
        assert sign_in(proxy, password="wrong", HTTP_X_FORWARDED_FOR=f"{forged}, 198.51.100.7").status_code == 200
    assert sign_in(proxy, HTTP_X_FORWARDED_FOR="3.3.3.3, 198.51.100.7").status_code == 429
    # Another visitor behind the same proxy is not blocked.
    assert sign_in(proxy, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 302
    # Sent straight to the server, the header is ignored: the peer's address counts.
    direct = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(2):
        sign_in(direct, password="wrong", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert sign_in(Client(REMOTE_ADDR="203.0.113.5"), HTTP_X_FORWARDED_FOR="198.51.100.10").status_code == 429


def test_without_the_cache_sign_in_sign_up_and_reset_refuse_with_a_message(client, ann, settings):
    from tests.web.accounts.test_throttle import DEAD_REDIS

    settings.CACHES = DEAD_REDIS
    signin = sign_in(client)
    assert signin.status_code == 503 and b"Try again in a minute" in signin.content
    assert "_auth_user_id" not in client.session
    signup = client.post("/accounts/signup", {"username": "bo", "password1": PASSWORD, "password2": PASSWORD})
    assert signup.status_code == 503 and b"Try again in a minute" in signup.content
    assert not User.objects.filter(username="bo").exists()
    response = reset(client)
    assert response.status_code == 503 and b"Try again in a minute" in response.content and mail.outbox == []
