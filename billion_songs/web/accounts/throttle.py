"""Throttling in the Django cache (local memory on one machine, Redis with REDIS_URL, so
that it holds across web processes): failed sign-ins, sign-ups and password-reset mails.

Failed sign-ins are counted per (client address, username) and per client address, over
a fixed window from the first failure. Past either limit, every sign-in for that pair (or
from that address) is refused until the window ends, the right password included: the
authentication backend refuses (covering the admin's sign-in too) and the form says why.
A successful sign-in clears its pair's count. There is no lock per username alone, which
would let anyone lock a stranger out.

The client address is REMOTE_ADDR. Behind a reverse proxy, run uvicorn with
--proxy-headers and --forwarded-allow-ips so that REMOTE_ADDR is the visitor's address;
otherwise every visitor shares the proxy's address and its per-address limit.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def _key(scope: str, *parts: str) -> str:
    # Hashed: usernames may hold characters that some cache backends refuse in keys.
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()
    return f"throttle:{scope}:{digest}"


def count(key: str, window: int) -> int:
    """Add one to a counter that expires `window` seconds after its first hit."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def rate_exceeded(scope: str, request, *, limit: int, window: int) -> bool:
    """Count one more `scope` action from this client address; True past `limit`."""
    return count(_key(scope, client_address(request)), window) > limit


def _signin_keys(request, username: str) -> list[tuple[str, int]]:
    address = client_address(request)
    return [
        (_key("signin-pair", address, username.casefold()), settings.SIGNIN_FAILURES_PER_ACCOUNT),
        (_key("signin-address", address), settings.SIGNIN_FAILURES_PER_ADDRESS),
    ]


def signin_blocked(request, username: str) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _signin_keys(request, username or ""))


def signin_failed(request, username: str) -> None:
    for key, _ in _signin_keys(request, username or ""):
        count(key, settings.SIGNIN_FAILURE_WINDOW)


def signin_succeeded(request, username: str) -> None:
    cache.delete(_signin_keys(request, username or "")[0][0])


def _on_failure(sender, credentials, request=None, **kwargs):
    if request is not None:
        signin_failed(request, credentials.get("username", ""))


def _on_success(sender, request, user, **kwargs):
    if request is not None:
        signin_succeeded(request, user.get_username())


def connect_signals() -> None:
    user_login_failed.connect(_on_failure, dispatch_uid="accounts-throttle-failure")
    user_logged_in.connect(_on_success, dispatch_uid="accounts-throttle-success")
