"""Validation perplexity through the int8 engine agrees with the float model it came from."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from billion_songs.core.engine.modelfile import read_model_dir
from billion_songs.core.evaluation.perplexity import engine_perplexity
from billion_songs.core.loader import resolve_model_dir
from billion_songs.core.tuning.dataset import load_prepared
from tests.tuning_fixtures import one_thread, prepared_dir  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")
START_OF_TITLE_ID, END_OF_TEXT_ID = 50257, 50256


def float_perplexity(model_dir, data, window, stand_in=None):
    """The same measurement with the float Hugging Face model: whole rows at once."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    nll, scored = 0.0, 0
    for i in range(len(data.val)):
        row = torch.tensor(np.asarray(data.val[i][:window], dtype=np.int64))[None]  # (1, T)
        inputs = row.masked_fill(row == START_OF_TITLE_ID, stand_in) if stand_in is not None else row
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=inputs).logits[0, :-1], dim=-1)  # (T-1, V)
        targets = row[0, 1:]
        keep = targets != START_OF_TITLE_ID
        nll -= logprobs[keep.nonzero()[:, 0], targets[keep]].sum().item()
        scored += int(keep.sum())
    return math.exp(nll / scored), scored


def test_engine_perplexity_matches_the_float_model(prepared_dir, tiny_lyrics_gpt2_dir):
    data = load_prepared(prepared_dir)
    loaded = read_model_dir(resolve_model_dir(str(tiny_lyrics_gpt2_dir)))
    result = engine_perplexity(loaded, data, max_tokens=10**6, window=32)
    expected, scored = float_perplexity(tiny_lyrics_gpt2_dir, data, window=32)
    assert result.tokens == scored and result.method == "int8 engine"
    assert result.perplexity == pytest.approx(expected, rel=0.03)
    assert result.loss == pytest.approx(math.log(result.perplexity))
    assert "reads <|endoftext|>" not in result.note


def test_a_base_without_the_title_marker_reads_end_of_text_in_its_place(prepared_dir, tiny_gpt2_dir):
    data = load_prepared(prepared_dir)
    loaded = read_model_dir(resolve_model_dir(str(tiny_gpt2_dir)))
    result = engine_perplexity(loaded, data, max_tokens=10**6, window=32)
    expected, _ = float_perplexity(tiny_gpt2_dir, data, window=32, stand_in=END_OF_TEXT_ID)
    assert result.perplexity == pytest.approx(expected, rel=0.03)
    assert "reads <|endoftext|> in its place" in result.note


def test_a_model_with_another_vocabulary_is_not_scored(prepared_dir):
    data = load_prepared(prepared_dir)
    other = SimpleNamespace(
        tokenizer=SimpleNamespace(get_vocab=lambda with_added_tokens: {"hello": 0, "world": 1}),
        manifest=SimpleNamespace(config={"vocab_size": 2}),
    )
    result = engine_perplexity(other, data)
    assert result.perplexity is None and "differs from the dataset's" in result.note
