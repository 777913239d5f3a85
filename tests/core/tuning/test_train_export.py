"""`export`: a trained tiny GPT-2 (a run dir, an interrupted run's checkpoint) becomes an
engine model that writes deterministic lyrics songs under a version of its own."""

import json

import pytest

from billion_songs.core.engine.modelfile import ModelLoadError, read_model_dir
from billion_songs.core.loader import load_generator, resolve_model_dir
from billion_songs.core.tuning.export import default_name, export_model, find_model
from billion_songs.core.tuning.train import train
from tests.tuning_fixtures import one_thread, prepared_dir, small_config  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def lora_run(prepared_dir, tiny_gpt2_dir, tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("runs") / "verse-lora"
    train(small_config(prepared_dir, run, tiny_gpt2_dir, max_steps=4), progress=False, say=lambda m: None)
    return run


def test_an_exported_run_writes_deterministic_lyrics_songs_under_a_new_version(lora_run, tiny_gpt2_dir, tmp_path):
    manifest = export_model(lora_run, tmp_path / "engine")
    assert manifest.model_version.startswith("verse-lora-")
    assert manifest.prompt_style == "lyrics"  # the tokenizer knows <|startoftitle|>
    assert manifest.source["kind"] == "lora" and manifest.source["base"] == str(tiny_gpt2_dir.resolve())

    base = read_model_dir(resolve_model_dir(str(tiny_gpt2_dir)))
    assert manifest.model_version != base.model_version

    song = load_generator(str(tmp_path / "engine")).generate([7])[0]
    again = load_generator(str(tmp_path / "engine")).generate([7])[0]
    assert song == again and song.model_version == manifest.model_version
    served = load_generator(str(lora_run)).generate([7])[0]  # the run dir itself, merged by the loader
    assert (served.title, served.lyrics, served.rejected) == (song.title, song.lyrics, song.rejected)


def test_an_interrupted_run_exports_its_checkpoint(lora_run, tmp_path):
    import shutil

    unfinished = tmp_path / "unfinished"
    shutil.copytree(lora_run / "checkpoint", unfinished / "checkpoint")
    found = find_model(unfinished)
    assert found.from_checkpoint and found.kind == "lora" and found.path == (unfinished / "checkpoint" / "model")
    manifest = export_model(unfinished, tmp_path / "engine")
    assert manifest.source["checkpoint"] is True and manifest.model_version.startswith("unfinished-")
    assert default_name(unfinished / "checkpoint" / "model") == "unfinished"


def test_export_explains_what_it_cannot_export(tmp_path, lora_run):
    with pytest.raises(ModelLoadError, match="no such directory"):
        find_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="neither a model"):
        find_model(tmp_path / "empty")
    export_model(lora_run, tmp_path / "engine")
    with pytest.raises(ModelLoadError, match="already an engine model"):
        find_model(tmp_path / "engine")
    assert json.loads((tmp_path / "engine" / "billion_songs_model.json").read_text())["name"] == "verse-lora"
