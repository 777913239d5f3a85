"""The charts (/top, /top/rated, /top/week): the same page for everyone, rendered without
the request and kept CHART_CACHE_SECONDS in the Django cache."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string

from billion_songs.web.songs.data import selectors

CHARTS = {
    # name: (heading, what it means, selector)
    "top": ("Top 10", "The highest net scores: votes up minus votes down.", selectors.chart_top),
    "rated": ("Best rated", ("Ranked by how sure we can be that listeners like them (the lower bound of the "
                             "Wilson score interval): one lucky vote does not beat 900 up and 100 down."),
              selectors.chart_best_rated),
    "week": ("This week", "The best net scores from votes cast in the last seven days.", selectors.chart_week),
}


def chart_page(chart: str) -> bytes:
    """The chart's page, from the cache when it is there (and caching is on)."""
    seconds = settings.CHART_CACHE_SECONDS
    key = f"charts:{chart}:{settings.SONG_PAGE_CACHE_VERSION}"
    body = cache.get(key) if seconds else None
    if body is None:
        heading, about, select = CHARTS[chart]
        body = render_to_string("songs/chart.html", {
            "chart": chart, "page_title": heading, "heading": heading, "about": about,
            "entries": select(limit=10)}).encode()
        if seconds:
            cache.set(key, body, timeout=seconds)
    return body
