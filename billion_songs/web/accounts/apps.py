from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "billion_songs.web.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from billion_songs.web.accounts import throttle

        throttle.connect_signals()
