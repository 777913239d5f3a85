"""Reading settings from the environment, in the spirit of django-environ, without the
dependency: typed getters with defaults, and DATABASE_URL / REDIS_URL parsing for the two
databases this project supports (SQLite, PostgreSQL)."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None or value == "" else int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value is None or value == "" else float(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# SQLite tuned for a web server: WAL lets readers run while one writer writes;
# synchronous=NORMAL is durable across application crashes in WAL mode (only an OS
# crash can lose the last transactions); IMMEDIATE transactions take the write lock up
# front, so two writers queue on busy_timeout instead of failing with "database is locked".
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}


def sqlite_database(path: Path) -> dict:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": dict(SQLITE_OPTIONS)}


def parse_database_url(url: str) -> dict:
    """`sqlite:////abs/path.sqlite3`, `sqlite:///relative.sqlite3` or
    `postgres://user:password@host:port/name?sslmode=require` -> a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///x is the relative path "x"; sqlite:////x the absolute path "/x".
        return sqlite_database(Path(unquote(parts.path[1:])))
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": dict(parse_qsl(parts.query)),
        }
    raise ValueError(f"DATABASE_URL scheme {parts.scheme!r} is not supported (use sqlite or postgres)")


# Private files: the data directory holds the database and the secret key, readable by
# this user only. `billion-songs serve` and `worker` also set the umask to 077, so that
# files SQLite creates (the database, its -wal and -shm) are 0600 too.

def private_directory(path: Path) -> None:
    """Create `path` (and missing parents) with mode 0700; an existing one is left as it is
    (it may be a directory the operator chose and shares on purpose)."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist (an empty file is a valid
    empty SQLite database), so that it is never readable by others, whatever the umask."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


SECRET_KEY_MIN_LENGTH = 50  # Django's own check (security.W009) asks for at least 50 characters
# deploy/env.example's placeholder: a key everyone can read is no secret.
PLACEHOLDER_SECRET_KEYS = {"change-me-to-a-long-random-string"}
_NEW_KEY_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def checked_secret_key(key: str, source: str) -> str:
    """`key`, or ImproperlyConfigured naming `source` when it is the example's placeholder
    or shorter than SECRET_KEY_MIN_LENGTH: sessions, password-reset links and CSRF tokens
    are signed with it."""
    if key in PLACEHOLDER_SECRET_KEYS or key.lower().startswith("change-me"):
        raise ImproperlyConfigured(f"{source} is the example's placeholder; set a long random key, e.g. from {_NEW_KEY_HINT}")
    if len(key) < SECRET_KEY_MIN_LENGTH:
        raise ImproperlyConfigured(f"{source} has {len(key)} characters; it needs at least {SECRET_KEY_MIN_LENGTH} "
                                   f"(a new one: {_NEW_KEY_HINT})")
    return key


def secret_key_in(data_dir: Path) -> str:
    """A secret key kept in the data directory, created on first use, so that a fresh
    `billion-songs serve` works without configuration and sessions survive restarts.

    Written atomically: a complete key goes to a private temporary file, is flushed to
    disk, then linked to `secret_key`, which fails if another process got there first (then
    both use the winner's key). A crash leaves at most a stray temporary file, never an
    empty or partial key file."""
    private_directory(data_dir)
    path = data_dir / "secret_key"
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = _write_new_key(path)
    else:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # written by an older version with the umask's mode
    return checked_secret_key(key, f"The secret key file {path} (delete it to have a new one made; "
                                   "everyone will be signed out)")


def _write_new_key(path: Path) -> str:
    key = secrets.token_urlsafe(SECRET_KEY_MIN_LENGTH)  # 67 characters
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(key)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_text().strip()  # another process won the race: its complete key
        _fsync_directory(path.parent)
        return key
    finally:
        os.unlink(temporary)


def _fsync_directory(path: Path) -> None:
    if hasattr(os, "O_DIRECTORY"):  # not on Windows
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
