"""Accounts with Django's own auth views: sign up, sign in (throttled), sign out, password
change and reset, a profile. Every form has a CSRF token; every `next` is checked with
`url_has_allowed_host_and_scheme` (Django's RedirectURLMixin) so that it stays on this
site. All these pages are private: Django's auth views send never_cache headers, and the
ones written here do the same."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView

from billion_songs.web.accounts import mail_links, throttle
from billion_songs.web.accounts.forms import EmailForm, ResetForm, SignInForm, SignUpForm
from billion_songs.web.songs.data import selectors


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url}, safe='/')}" if next_url else url


def _refused(view, form, message: str, *, status: int):
    form.add_error(None, message)
    response = view.form_invalid(form)
    response.status_code = status
    if status == 503:
        response["Retry-After"] = "60"
    return response


class SignInView(auth.LoginView):
    template_name = "accounts/login.html"
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
        elif form.has_error(NON_FIELD_ERRORS, "throttle_unavailable"):
            response.status_code = 503
            response["Retry-After"] = "60"
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["signup_url"] = _with_next(reverse("accounts:signup"), context.get("next", ""))
        context["page_title"] = "Sign in"
        return context


class SignOutView(auth.LogoutView):
    """POST only (Django's LogoutView): a link cannot sign anyone out."""


@method_decorator([sensitive_post_parameters("password1", "password2"), csrf_protect, never_cache], name="dispatch")
class SignUpView(auth.RedirectURLMixin, FormView):
    template_name = "accounts/signup.html"
    form_class = SignUpForm
    next_page = settings.LOGIN_REDIRECT_URL

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return HttpResponseRedirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            exceeded = throttle.rate_exceeded("signup", self.request, limit=settings.SIGNUPS_PER_ADDRESS_PER_HOUR,
                                              window=3600)
        except throttle.ThrottleUnavailable:
            return _refused(self, form, throttle.UNAVAILABLE, status=503)
        if exceeded:
            return _refused(self, form, "Too many new accounts from your address. Try again later.", status=429)
        user = form.save()
        login(self.request, user)
        messages.success(self.request, f"Welcome, {user.get_username()}!")
        return HttpResponseRedirect(self.get_success_url())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        next_url = self.get_redirect_url()
        context.update(next=next_url, login_url=_with_next(resolve_url(settings.LOGIN_URL), next_url),
                       page_title="Sign up")
        return context


@method_decorator(never_cache, name="dispatch")
class ProfileView(LoginRequiredMixin, FormView):
    template_name = "accounts/profile.html"
    form_class = EmailForm
    success_url = reverse_lazy("accounts:profile")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.request.user}

    def form_valid(self, form):
        form.save()
        messages.success(self.request, "Your email address was saved.")
        return super().form_valid(form)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(activity=selectors.user_activity(user=self.request.user),
                       recent=selectors.user_votes(user=self.request.user, limit=5), page_title="Your account")
        return context


@method_decorator(never_cache, name="dispatch")
class PasswordChangeView(auth.PasswordChangeView):
    extra_context = {"page_title": "Change your password"}
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")


@method_decorator(never_cache, name="dispatch")
class PasswordChangeDoneView(auth.PasswordChangeDoneView):
    extra_context = {"page_title": "Password changed"}
    template_name = "accounts/password_change_done.html"


@method_decorator(never_cache, name="dispatch")
class PasswordResetView(auth.PasswordResetView):
    """The mail goes to the console by default, by SMTP when DJANGO_EMAIL_HOST is set.
    Its link never comes from an unchecked Host (mail_links.py): BILLION_SONGS_SITE_URL
    when set, else the checked host; with neither, the page says that resets are off and
    nothing is sent. Requests are limited per address; past the limit the same "sent"
    page shows, and nothing is sent."""

    extra_context = {"page_title": "Reset your password"}
    template_name = "accounts/password_reset.html"
    form_class = ResetForm
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "switched_off": not mail_links.mail_links_allowed()}

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "reset_disabled"):
            response.status_code = 503
        return response

    def form_valid(self, form):
        try:
            exceeded = throttle.rate_exceeded("password-reset", self.request,
                                              limit=settings.PASSWORD_RESETS_PER_ADDRESS_PER_HOUR, window=3600)
        except throttle.ThrottleUnavailable:
            return _refused(self, form, throttle.UNAVAILABLE, status=503)
        if exceeded:
            return HttpResponseRedirect(self.get_success_url())
        site_url = mail_links.mail_base_url(self.request)
        # Django's own form_valid, with domain_override: the mail's context then holds no
        # host from the request either (its `domain` would otherwise come from Host).
        form.save(domain_override=urlsplit(site_url).netloc, use_https=site_url.startswith("https:"),
                  token_generator=self.token_generator, from_email=self.from_email,
                  email_template_name=self.email_template_name, subject_template_name=self.subject_template_name,
                  request=self.request, html_email_template_name=self.html_email_template_name,
                  extra_email_context={"site_url": site_url})
        return HttpResponseRedirect(self.get_success_url())


@method_decorator(never_cache, name="dispatch")
class PasswordResetDoneView(auth.PasswordResetDoneView):
    extra_context = {"page_title": "Check your email"}
    template_name = "accounts/password_reset_done.html"


@method_decorator(never_cache, name="dispatch")
class PasswordResetConfirmView(auth.PasswordResetConfirmView):
    extra_context = {"page_title": "Choose a new password"}
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


@method_decorator(never_cache, name="dispatch")
class PasswordResetCompleteView(auth.PasswordResetCompleteView):
    extra_context = {"page_title": "Password set"}
    template_name = "accounts/password_reset_complete.html"
