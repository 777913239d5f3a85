from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "billion_songs.web.accounts"
    label = "accounts"
    verbose_name = "Accounts"
