"""Keeping the cached counts exact when a user is deleted (in the admin, or by a script):
the database cascade deletes their votes without going through services.py, so the
counts they touched are rebuilt from the remaining Vote rows in the same transaction."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from billion_songs.web.songs.data import services

User = get_user_model()


@receiver(pre_delete, sender=User, dispatch_uid="songs-user-pre-delete")
def _remember_votes(sender, instance, **kwargs):
    instance._songs_votes_touched = services.user_votes_prepare_delete(user=instance)


@receiver(post_delete, sender=User, dispatch_uid="songs-user-post-delete")
def _recount_votes(sender, instance, **kwargs):
    touched = getattr(instance, "_songs_votes_touched", None)
    if touched:
        services.user_votes_after_delete(**touched)
