"""What `billion-songs serve` runs: no debug pages, a real secret key, HTTPS settings
opt-in from the environment (the embedded server speaks plain HTTP; TLS is a proxy's job)."""

from billion_songs.web.config.env import env_bool, env_int, env_str, secret_key_in
from billion_songs.web.config.settings.base import *
from billion_songs.web.config.settings.base import DATA_DIR, SECRET_KEY

DEBUG = False
SECRET_KEY = SECRET_KEY or secret_key_in(DATA_DIR)

if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
CSRF_TRUSTED_ORIGINS = [o for o in env_str("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o]
