"""Django's own auth forms, with the throttle's messages and an optional email at sign-up."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.core.exceptions import ValidationError

from billion_songs.web.accounts import mail_links, throttle

THROTTLED = "Too many failed sign-ins. Wait a few minutes, then try again."


class _Throttled:
    """The backend (backends.py) refuses throttled attempts; this says why instead of
    "wrong username or password"."""

    def get_invalid_login_error(self):
        refused = getattr(self.request, "signin_refused", None)
        if refused == "throttled":
            return ValidationError(THROTTLED, code="throttled")
        if refused == "unavailable":
            return ValidationError(throttle.UNAVAILABLE, code="throttle_unavailable")
        return super().get_invalid_login_error()


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


class ResetForm(PasswordResetForm):
    """Django's reset form, which says so, already on the empty form, when reset mails are
    switched off (mail_links.py) and refuses to be valid then."""

    def __init__(self, *args, switched_off: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.switched_off = switched_off

    def clean(self):
        if self.switched_off:
            raise ValidationError(mail_links.RESET_DISABLED, code="reset_disabled")
        return super().clean()

    def non_field_errors(self):
        if self.switched_off and not self.is_bound:
            return self.error_class([mail_links.RESET_DISABLED], error_class="nonfield")
        return super().non_field_errors()
