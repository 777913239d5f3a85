"""Django's own auth forms, with the throttle's message and an optional email at sign-up."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError

from billion_songs.web.accounts import throttle

THROTTLED = "Too many failed sign-ins. Wait a few minutes, then try again."


class _Throttled:
    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if self.request is not None and throttle.signin_blocked(self.request, username):
            raise ValidationError(THROTTLED, code="throttled")
        return super().clean()


class SignInForm(_Throttled, AuthenticationForm):
    pass


class AdminSignInForm(_Throttled, AdminAuthenticationForm):
    pass


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional. Only used to reset your password.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class EmailForm(forms.ModelForm):
    class Meta:
        model = get_user_model()
        fields = ("email",)
        help_texts = {"email": "Only used to reset your password."}
