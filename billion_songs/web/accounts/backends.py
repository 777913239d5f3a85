"""Django's ModelBackend behind the sign-in throttle (throttle.py). As the only
authentication backend, it covers every sign-in form, the admin's included.

Each attempt is counted before the password is checked. A refused attempt leaves its
reason on the request (`signin_refused`: "throttled" or "unavailable"), where the sign-in
forms (forms.py) find it to say why."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from billion_songs.web.accounts import throttle


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None:  # not a web sign-in (a management command, a test helper)
            return super().authenticate(request, username=username, password=password, **kwargs)
        try:
            allowed = throttle.signin_attempt(request, username or "")
        except throttle.ThrottleUnavailable:
            request.signin_refused = "unavailable"
            raise PermissionDenied("the sign-in throttle cannot count") from None  # authenticate() returns None
        if not allowed:
            request.signin_refused = "throttled"
            raise PermissionDenied("too many failed sign-ins")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            throttle.signin_succeeded(request, username or "")
        return user
