"""Django's ModelBackend, refusing sign-ins that the throttle has blocked (throttle.py).
As the only authentication backend, it covers every sign-in form, the admin's included."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from billion_songs.web.accounts import throttle


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is not None and throttle.signin_blocked(request, username or ""):
            raise PermissionDenied("too many failed sign-ins")  # authenticate() returns None
        return super().authenticate(request, username=username, password=password, **kwargs)
