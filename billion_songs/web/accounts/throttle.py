"""Throttling in the Django cache (local memory on one machine, Redis with REDIS_URL, so
that it holds across web processes): sign-in attempts, sign-ups and password-reset mails.

Sign-in attempts are counted per (client address, username) and per client address, over
a fixed window from the first attempt. The count goes up *before* the password is
checked (`signin_attempt`), so guesses sent in parallel each take their own number and at
most the limit of them are checked; a successful sign-in gives its attempt back (the
pair's count is cleared, the address's goes down by one), so only failures add up. Past
either limit every sign-in for that pair (or from that address) is refused until the
window ends, the right password included. There is no lock per username alone, which
would let anyone lock a stranger out.

The client address is REMOTE_ADDR, which `ClientAddressMiddleware` (config/middleware.py)
sets from X-Forwarded-For only when the request came through a trusted proxy
(BILLION_SONGS_TRUSTED_PROXIES). IPv6 addresses count per /64: one machine usually holds
a whole /64 and could otherwise take a fresh address per guess.

When the cache cannot count (Redis down), these checks fail closed: `ThrottleUnavailable`
is raised and the views answer 503 with a message instead of letting guesses through
uncounted or failing with a 500.
"""

from __future__ import annotations

import hashlib
import ipaddress

from django.conf import settings
from django.core.cache import cache


class ThrottleUnavailable(Exception):
    """The cache that holds the counts cannot be reached: refuse rather than not count."""


UNAVAILABLE = "This can't be done just now (a part of the site is briefly out of reach). Try again in a minute."


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def address_bucket(address: str) -> str:
    """What one client is counted as: an IPv4 address, or an IPv6 /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (a test client, a unix socket): counted as it is
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _key(scope: str, *parts: str) -> str:
    # Hashed: usernames may hold characters that some cache backends refuse in keys.
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()
    return f"throttle:{scope}:{digest}"


def count(key: str, window: int) -> int:
    """Add one to a counter that expires `window` seconds after its first hit; the new
    count. Raises ThrottleUnavailable when the cache does not answer (django-redis with
    IGNORE_EXCEPTIONS answers None instead of raising)."""
    try:
        cache.add(key, 0, timeout=window)
        try:
            value = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            value = cache.get(key)
    except Exception as error:  # any cache backend's connection error
        raise ThrottleUnavailable(str(error)) from error
    if not isinstance(value, int):
        raise ThrottleUnavailable(f"the cache did not count {key}")
    return value


def rate_exceeded(scope: str, request, *, limit: int, window: int) -> bool:
    """Count one more `scope` action from this client; True past `limit`. Raises
    ThrottleUnavailable when it cannot count."""
    return count(_key(scope, address_bucket(client_address(request))), window) > limit


def _signin_keys(request, username: str) -> list[tuple[str, int]]:
    bucket = address_bucket(client_address(request))
    return [
        (_key("signin-pair", bucket, username.casefold()), settings.SIGNIN_FAILURES_PER_ACCOUNT),
        (_key("signin-address", bucket), settings.SIGNIN_FAILURES_PER_ADDRESS),
    ]


def signin_attempt(request, username: str) -> bool:
    """Count one sign-in attempt, before the password is checked; True when it may go
    ahead, False when the pair or the address is past its limit. Raises
    ThrottleUnavailable when it cannot count."""
    allowed = True
    for key, limit in _signin_keys(request, username or ""):
        if count(key, settings.SIGNIN_FAILURE_WINDOW) > limit:
            allowed = False
    return allowed


def signin_succeeded(request, username: str) -> None:
    """Give the attempt back: a right password is not a failure."""
    (pair, _), (address, _) = _signin_keys(request, username or "")
    try:
        cache.delete(pair)
        cache.decr(address)
    except Exception:  # ValueError: the window ended meanwhile; or the cache went away: the count expires
        pass
