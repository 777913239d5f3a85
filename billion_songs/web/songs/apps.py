from django.apps import AppConfig


class SongsConfig(AppConfig):
    name = "billion_songs.web.songs"
    label = "songs"
    verbose_name = "Songs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billion_songs.web.songs import signals  # noqa: F401  (connects the receivers)
