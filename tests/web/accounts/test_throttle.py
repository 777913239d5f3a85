import subprocess
import sys

import pytest
from django.test import RequestFactory

from billion_songs.web.accounts import throttle


def request(address="10.1.1.1"):
    return RequestFactory().post("/accounts/login", REMOTE_ADDR=address)


def test_failures_block_the_pair_then_the_address(settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 2
    settings.SIGNIN_FAILURES_PER_ADDRESS = 3
    throttle.signin_failed(request(), "Ann")
    assert not throttle.signin_blocked(request(), "ann")
    throttle.signin_failed(request(), "ann")
    assert throttle.signin_blocked(request(), "ANN")  # usernames compare without case
    assert not throttle.signin_blocked(request(), "bob")
    assert not throttle.signin_blocked(request("10.2.2.2"), "ann")
    throttle.signin_failed(request(), "bob")
    assert throttle.signin_blocked(request(), "cy")  # the address is past its limit


def test_success_clears_the_pair():
    throttle.signin_failed(request(), "ann")
    throttle.signin_succeeded(request(), "ann")
    assert throttle.count(throttle._signin_keys(request(), "ann")[0][0], 60) == 1


def test_rate_exceeded_counts_per_address():
    assert not throttle.rate_exceeded("x", request(), limit=1, window=60)
    assert throttle.rate_exceeded("x", request(), limit=1, window=60)
    assert not throttle.rate_exceeded("x", request("10.9.9.9"), limit=1, window=60)


@pytest.mark.parametrize("env, backend", [
    ({}, "django.core.mail.backends.console.EmailBackend"),
    ({"DJANGO_EMAIL_HOST": "smtp.example.com"}, "django.core.mail.backends.smtp.EmailBackend"),
])
def test_password_mail_goes_to_the_console_unless_smtp_is_configured(env, backend, tmp_path):
    code = "from billion_songs.web.config.settings import base; print(base.EMAIL_BACKEND, base.EMAIL_HOST)"
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_EMAIL")}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env, "BILLION_SONGS_DATA_DIR": str(tmp_path)},
                         capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == backend
