"""The base URL of links sent by mail (password resets), never taken from an unchecked Host.

A mailed link that used the request's Host header as it came would let anyone who asks
for a reset for a stranger's address choose where the reset token goes (a forged Host:
attacker.example). So the link uses BILLION_SONGS_SITE_URL when it is set; otherwise the
request's host only when Django checked it against an explicit DJANGO_ALLOWED_HOSTS list.
With neither (`serve --host 0.0.0.0` without configuration accepts any Host), reset mails
are not sent, the reset page says so, and `billion-songs serve` warns at start-up.
"""

from __future__ import annotations

from django.conf import settings

RESET_DISABLED = ("Password reset by mail is switched off on this site until its operator sets its public address "
                  "(BILLION_SONGS_SITE_URL). Ask the operator to reset your password.")


def mail_links_allowed() -> bool:
    return bool(settings.SITE_URL) or "*" not in settings.ALLOWED_HOSTS


def mail_base_url(request) -> str | None:
    """"https://songs.example.com" for links in mail, or None when no trusted one is known."""
    if settings.SITE_URL:
        return settings.SITE_URL
    if not mail_links_allowed():
        return None
    return f"{request.scheme}://{request.get_host()}"  # get_host() checks ALLOWED_HOSTS (400 otherwise)


def startup_warning() -> str | None:
    """What `billion-songs serve` says when reset mails are switched off, else None."""
    if mail_links_allowed():
        return None
    return ("Warning: the site accepts any Host header (listening on every interface without "
            "DJANGO_ALLOWED_HOSTS) and BILLION_SONGS_SITE_URL is not set, so password-reset mails are "
            "switched off: a link built from a forged Host would send the reset token elsewhere. Set "
            "BILLION_SONGS_SITE_URL=https://your.domain (and DJANGO_ALLOWED_HOSTS) to switch them on.")
