"""abcjs, the sheet-music renderer the song pages use, served by the site itself.

No third-party code is committed to this repository. The pinned npm tarball is fetched
from the npm registry (settings.NPM_REGISTRY) the first time the site is asked for it,
checked against the sha512 integrity the registry published for that version, and its
minified browser build (with its MIT licence header) is kept in the user cache directory,
next to the embedded model: cache_dir()/vendor/abcjs-6.7.2/abcjs-basic-min.js. Later
processes read it from there. When it cannot be fetched (no network, a bad tarball) the
song page keeps the tune's ABC text and its player; the fetch is tried again after
RETRY_SECONDS.

    python -c "from billion_songs.web.songs.http import abcjs; print(abcjs.script_path())"

fetches it ahead of time (at install or image build), so that the site never has to
reach the registry while serving.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import tarfile
import threading
import time
import urllib.request
from pathlib import Path

from django.conf import settings

from billion_songs.core.paths import cache_dir

log = logging.getLogger(__name__)

VERSION = "6.7.2"
# `npm view abcjs@6.7.2 dist.integrity`: the tarball's sha512, as package-lock files pin it.
INTEGRITY = "sha512-cHCyf8j0hAcxTuwZ9l2QznaSlLK1TD2s5oVw6Ig8Kfss6VfJKoNJ1kAzMBwa6DDWeyNl2JH7mN/U+MJ8MYbC5g=="
MEMBER = "package/dist/abcjs-basic-min.js"  # the browser build: window.ABCJS
FILENAME = "abcjs-basic-min.js"
TIMEOUT = 30  # seconds for the download
RETRY_SECONDS = 300  # after a failed fetch, requests get a 404 for this long
MAX_TARBALL = 16 * 1024 * 1024  # the 6.7.2 tarball is about 1 MB

_lock = threading.Lock()
_failed_at: float | None = None
_script: bytes | None = None  # read once per process


class FetchFailed(Exception):
    pass


def tarball_url() -> str:
    return f"{settings.NPM_REGISTRY.rstrip('/')}/abcjs/-/abcjs-{VERSION}.tgz"


def cached_path() -> Path:
    return cache_dir() / "vendor" / f"abcjs-{VERSION}" / FILENAME


def verify(data: bytes) -> None:
    algorithm, _, expected = INTEGRITY.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")
    if actual != expected:
        raise FetchFailed(f"abcjs {VERSION} tarball from {tarball_url()} does not match its pinned {algorithm}")


def fetch() -> bytes:
    """The browser build from the registry's tarball, integrity-checked."""
    try:
        with urllib.request.urlopen(tarball_url(), timeout=TIMEOUT) as response:  # noqa: S310  (a configured URL)
            data = response.read(MAX_TARBALL + 1)
    except OSError as error:  # URLError, timeouts, refused connections
        raise FetchFailed(f"abcjs {VERSION}: cannot download {tarball_url()}: {error}") from error
    verify(data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise FetchFailed(f"abcjs {VERSION} tarball has no {MEMBER}")
        return member.read()


def script_path() -> Path | None:
    """The cached browser build, fetched first if it is not there; None while it cannot
    be fetched (tried again after RETRY_SECONDS)."""
    global _failed_at
    path = cached_path()
    if path.exists():
        return path
    with _lock:  # one download per process; another process may write the same bytes
        if path.exists():
            return path
        if _failed_at is not None and time.monotonic() - _failed_at < RETRY_SECONDS:
            return None
        try:
            script = fetch()
        except (FetchFailed, tarfile.TarError) as error:
            _failed_at = time.monotonic()
            log.warning("%s; song pages show the tune's ABC text instead of sheet music", error)
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(script)
        partial.replace(path)  # atomic: a reader never sees half a file
        _failed_at = None
        return path


def loaded() -> bytes | None:
    """The browser build's bytes if this process has read them already (no I/O)."""
    return _script


def script() -> bytes | None:
    """The browser build's bytes (see script_path); None while it cannot be fetched."""
    global _script
    if _script is None:
        path = script_path()
        if path is not None:
            _script = path.read_bytes()
    return _script


def forget() -> None:
    """Look at the cache directory and the registry afresh on the next request (tests)."""
    global _failed_at, _script
    _failed_at = _script = None
