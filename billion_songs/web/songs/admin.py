"""Moderation in the Django admin: songs, votes, title suggestions (users come with
django.contrib.auth's admin). Hiding goes through services.py, which also takes the song
out of the pool and purges its cached pages; votes are deleted through a service that
corrects the cached counts. Stored songs themselves are read-only: a song never changes, and is never deleted here
(that would skip the purge and the pool, and reset its vote counts' revision): hide it.
The actions need the change permission: staff who may only view cannot hide or show."""

from __future__ import annotations

from django.contrib import admin, messages

from billion_songs.web.songs.data import services
from billion_songs.web.songs.data.models import (
    Song,
    SongTally,
    TitleSuggestion,
    TitleSuggestionVote,
    Vote,
)


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Song)
class SongAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "ok", "hidden", "in_pool", "model_version", "created")
    list_filter = ("hidden", "ok", "in_pool")
    search_fields = ("title",)
    ordering = ("-created",)
    show_full_result_count = False  # no COUNT(*) over millions of songs on every page
    fields = ("id", "title", "lyrics", "genre", "mood", "topic", "form", "sections", "ok", "failure_reason", "attempts",
              "model_version", "in_pool", "created", "hidden")
    readonly_fields = tuple(f for f in fields if f != "hidden")
    actions = ("hide", "unhide", "recount")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "hidden" in form.changed_data:  # through the service: pool and page cache
            services.songs_hide(song_ids=[obj.pk], hidden=obj.hidden)

    def get_search_results(self, request, queryset, search_term):
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.isdigit():  # a song id, as in its permalink
            try:
                queryset |= self.model.objects.filter(pk=int(search_term))
            except (OverflowError, ValueError):
                pass
        return queryset, duplicates

    @admin.action(description="Hide the selected songs (out of the pool and charts; the page says removed)",
                  permissions=["change"])
    def hide(self, request, queryset):
        count = services.songs_hide(song_ids=list(queryset.values_list("pk", flat=True)), hidden=True)
        self.message_user(request, f"{count} song(s) hidden.", messages.SUCCESS)

    @admin.action(description="Show the selected songs again", permissions=["change"])
    def unhide(self, request, queryset):
        count = services.songs_hide(song_ids=list(queryset.values_list("pk", flat=True)), hidden=False)
        self.message_user(request, f"{count} song(s) shown again.", messages.SUCCESS)

    @admin.action(description="Recount the votes of the selected songs", permissions=["change"])
    def recount(self, request, queryset):
        changed = services.tallies_recount(song_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{changed} count(s) corrected.", messages.SUCCESS)


@admin.register(Vote)
class VoteAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("song", "user", "value", "created", "updated")
    list_filter = ("value",)
    search_fields = ("user__username",)
    raw_id_fields = ("song", "user")
    list_select_related = ("song", "user")
    show_full_result_count = False

    def delete_model(self, request, obj):
        services.votes_delete(vote_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services.votes_delete(vote_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(SongTally)
class SongTallyAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("song", "up", "down", "score", "wilson", "updated")
    ordering = ("-score",)
    raw_id_fields = ("song",)
    list_select_related = ("song",)
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TitleSuggestion)
class TitleSuggestionAdmin(admin.ModelAdmin):
    list_display = ("text", "song", "user", "score", "up", "down", "hidden", "created")
    list_filter = ("hidden",)
    search_fields = ("text", "user__username")
    raw_id_fields = ("song", "user")
    list_select_related = ("song", "user")
    fields = ("text", "song", "user", "up", "down", "score", "created", "hidden")
    readonly_fields = ("text", "song", "user", "up", "down", "score", "created")
    actions = ("hide", "unhide")

    def has_add_permission(self, request):
        return False

    @admin.action(description="Hide the selected suggestions", permissions=["change"])
    def hide(self, request, queryset):
        count = services.title_suggestions_hide(suggestion_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} suggestion(s) hidden.", messages.SUCCESS)

    @admin.action(description="Show the selected suggestions again", permissions=["change"])
    def unhide(self, request, queryset):
        count = services.title_suggestions_hide(suggestion_ids=list(queryset.values_list("pk", flat=True)),
                                                hidden=False)
        self.message_user(request, f"{count} suggestion(s) shown again.", messages.SUCCESS)


@admin.register(TitleSuggestionVote)
class TitleSuggestionVoteAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("suggestion", "user", "value", "created")
    raw_id_fields = ("suggestion", "user")
    list_select_related = ("suggestion", "user")

    def has_delete_permission(self, request, obj=None):
        return False
