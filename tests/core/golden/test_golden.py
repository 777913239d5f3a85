"""The embedded model writes the committed golden logits and songs on whatever CPU runs
this (AVX2 or AVX-512 VNNI, native step or PyTorch reference)."""

import json

import pytest

from tests.core.golden.golden import FIXTURE, compute

pytestmark = [pytest.mark.embedded, pytest.mark.slow]


@pytest.fixture()
def user_cache(monkeypatch):
    monkeypatch.delenv("BILLION_SONGS_CACHE", raising=False)


def test_the_embedded_model_writes_the_golden_logits_and_songs(user_cache):
    expected = json.loads(FIXTURE.read_text())
    got = compute()
    assert got["model_version"] == expected["model_version"], "model_version changed: regenerate in the same change"
    assert got["logits"] == expected["logits"]
    assert got["songs"] == expected["songs"]
