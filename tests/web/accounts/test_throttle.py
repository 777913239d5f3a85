import subprocess
import sys
import threading
import uuid

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.test import RequestFactory

from billion_songs.web.accounts import throttle
from tests.support.waiting import free_port


def request(address="10.1.1.1"):
    return RequestFactory().post("/accounts/login", REMOTE_ADDR=address)


def failed(address, username, times=1):
    for _ in range(times):
        assert throttle.signin_attempt(request(address), username)


def test_attempts_block_the_pair_then_the_address(settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 2
    settings.SIGNIN_FAILURES_PER_ADDRESS = 3
    failed("10.1.1.1", "Ann")
    failed("10.1.1.1", "ann")
    assert not throttle.signin_attempt(request(), "ANN")  # usernames compare without case
    assert throttle.signin_attempt(request("10.2.2.2"), "ann")
    assert not throttle.signin_attempt(request(), "bob")  # the address is past its limit (4 attempts)


def test_success_gives_the_attempt_back(settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 2
    settings.SIGNIN_FAILURES_PER_ADDRESS = 2
    for _ in range(5):  # five right passwords in a row: never blocked
        assert throttle.signin_attempt(request(), "ann")
        throttle.signin_succeeded(request(), "ann")
    failed("10.1.1.1", "bob", times=2)
    assert not throttle.signin_attempt(request(), "cy")


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4(settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 2
    failed("2001:db8:1:2::1", "ann")
    failed("2001:db8:1:2:ffff:1:2:3", "ann")  # another address of the same /64
    assert not throttle.signin_attempt(request("2001:db8:1:2::99"), "ann")
    assert throttle.signin_attempt(request("2001:db8:1:3::1"), "ann")  # another /64
    assert throttle.address_bucket("::ffff:192.0.2.7") == "192.0.2.7"


def test_rate_exceeded_counts_per_address():
    assert not throttle.rate_exceeded("x", request(), limit=1, window=60)
    assert throttle.rate_exceeded("x", request(), limit=1, window=60)
    assert not throttle.rate_exceeded("x", request("10.9.9.9"), limit=1, window=60)


DEAD_REDIS = {"default": {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
    # As in base.py: with IGNORE_EXCEPTIONS, django-redis answers None instead of raising.
    "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
}}


def test_a_cache_that_cannot_count_fails_closed(settings):
    settings.CACHES = DEAD_REDIS
    with pytest.raises(throttle.ThrottleUnavailable):
        throttle.signin_attempt(request(), "ann")
    with pytest.raises(throttle.ThrottleUnavailable):
        throttle.rate_exceeded("signup", request(), limit=10, window=60)


class SlowHasher(PBKDF2PasswordHasher):
    """A password check that takes tens of milliseconds, like a real one: long enough for
    parallel guesses to overlap."""
    iterations = 200_000


def real_redis_cache():
    return {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/0",
                        "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}"}}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cache", ["local memory", "redis"])
def test_parallel_guesses_cannot_all_pass(settings, cache):
    if cache == "redis":
        settings.CACHES = real_redis_cache()
    settings.PASSWORD_HASHERS = [f"{__name__}.SlowHasher"]
    settings.SIGNIN_FAILURES_PER_ACCOUNT = 3
    User.objects.create_user("ann", password="the right one 42")
    guesses = 12
    start = threading.Barrier(guesses)
    refused = []

    def guess(n):
        attempt = request()
        start.wait()
        assert authenticate(attempt, username="ann", password=f"guess {n}") is None
        refused.append(getattr(attempt, "signin_refused", None))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    checked = [reason for reason in refused if reason is None]
    assert len(refused) == guesses and len(checked) == 3  # only the limit's worth reached the password check


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
