from importlib import import_module

from django.apps import AppConfig


class SongsConfig(AppConfig):
    """The songs app. Its code stands in layer folders (see the README's design section);
    Django's own places stay where Django looks for them: migrations/, templates/,
    static/, templatetags/ and admin.py."""

    name = "billion_songs.web.songs"
    label = "songs"
    verbose_name = "Songs"
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self) -> None:
        # The models live in the database layer (data/models.py), not in songs/models.py
        # where Django would look: import them at the same point of start-up.
        super().import_models()
        self.models_module = import_module(f"{self.name}.data.models")

    def ready(self) -> None:
        # The modules whose receivers every process needs, imported once the models are
        # loaded (Django's rule for signal receivers, not a way around a cycle).
        from billion_songs.web.songs.data import signals  # noqa: F401  (a user's deletion: counts kept exact)
        from billion_songs.web.songs.http import page_cache  # noqa: F401  (a hidden song: pages purged)
        from billion_songs.web.songs.runtime import web  # noqa: F401  (a hidden song: out of the pool)
