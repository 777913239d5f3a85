"""{% inline_static "songs/site.css" %}: a static file's text, inlined into the page.

Song pages are cached for a long time; with their CSS and JavaScript inside, a cached
page never refers to an asset that a later deploy removed, and a phone renders it with
one request. The files are small (a few kB) and read once per process.
"""

from functools import cache

from django import template
from django.contrib.staticfiles import finders
from django.utils.safestring import mark_safe

register = template.Library()


@cache
def _read(path: str) -> str:
    found = finders.find(path)
    if not found:
        raise template.TemplateSyntaxError(f"inline_static: no static file {path!r}")
    with open(found, encoding="utf-8") as file:
        return file.read()


@register.simple_tag
def inline_static(path: str) -> str:
    return mark_safe(_read(path))  # our own files, never user or model text
