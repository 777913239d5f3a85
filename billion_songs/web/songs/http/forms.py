"""Forms for the per-visitor actions on a song page. They check the shape of the input;
services.py enforces the rules (one vote, limits, hidden songs)."""

from __future__ import annotations

from django import forms
from django.conf import settings

VOTE_VALUES = {"up": 1, "down": -1, "none": 0}


class VoteForm(forms.Form):
    value = forms.ChoiceField(choices=[(name, name) for name in VOTE_VALUES])

    def vote(self) -> int:
        return VOTE_VALUES[self.cleaned_data["value"]]


class TitleSuggestionForm(forms.Form):
    title = forms.CharField(strip=True)

    def clean_title(self) -> str:
        title = self.cleaned_data["title"]
        limit = settings.TITLE_SUGGESTION_MAX_LENGTH
        if len(title) > limit:
            raise forms.ValidationError(f"A title can be at most {limit} characters long.")
        return title
