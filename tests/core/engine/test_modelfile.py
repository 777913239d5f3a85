"""Loading models: every broken directory is a clear error naming the path."""

import json

import pytest

from billion_songs.core.engine.modelfile import MANIFEST, WEIGHTS, ModelLoadError, read_model_dir
from billion_songs.core.loader import resolve_model_dir


@pytest.fixture()
def engine_dir(tiny_lyrics_gpt2_dir, tmp_path):
    import shutil

    source = resolve_model_dir(str(tiny_lyrics_gpt2_dir))
    copy = tmp_path / "model"
    shutil.copytree(source, copy)
    return copy


def test_a_hugging_face_checkpoint_converts_once_to_a_loadable_model(tiny_lyrics_gpt2_dir):
    first = resolve_model_dir(str(tiny_lyrics_gpt2_dir))
    assert resolve_model_dir(str(tiny_lyrics_gpt2_dir)) == first  # cached by content hash
    loaded = read_model_dir(first)
    assert loaded.manifest.architecture == "gpt2"
    assert loaded.manifest.prompt_style == "lyrics"
    assert loaded.model_version.startswith(tiny_lyrics_gpt2_dir.name)


def test_model_version_changes_with_the_generation_settings(engine_dir):
    from dataclasses import replace

    loaded = read_model_dir(engine_dir)
    hotter = replace(loaded.manifest.generation, temperature=1.0)
    assert read_model_dir(engine_dir, generation=hotter).model_version != loaded.model_version


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / WEIGHTS).unlink(), "weights.safetensors is missing"),
    (lambda d: (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes()[:-10]), "checksum mismatch"),
    (lambda d: (d / MANIFEST).write_text("{not json"), "not valid JSON"),
    (lambda d: (d / MANIFEST).write_text(json.dumps({"format": "other"})), "not a Billion Songs model"),
    (lambda d: (d / MANIFEST).unlink(), "not a model directory"),
])
def test_broken_model_directories_are_clear_errors(engine_dir, damage, message):
    damage(engine_dir)
    with pytest.raises(ModelLoadError, match=message) as error:
        read_model_dir(resolve_model_dir(str(engine_dir)))
    assert str(engine_dir) in str(error.value)


def test_unknown_names_say_the_hub_is_unreachable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="not a local directory"):
        resolve_model_dir("gpt2")
    with pytest.raises(ModelLoadError, match="no such model directory"):
        resolve_model_dir("./no/such/model")
