"""`export --out` writes over nothing but an absent or empty directory or an earlier
export, like `prepare --out`: a slip of the finger must never delete a training run."""

import json

import pytest
from click.testing import CliRunner

from billion_songs.cli.export import export
from billion_songs.core.engine.modelfile import ModelLoadError, is_model_dir
from billion_songs.core.tuning.export import export_model
from tests.model_fixtures import tiny_gpt2_dir  # noqa: F401
from tests.tuning_fixtures import one_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")


def tree(path):
    return sorted((str(p.relative_to(path)), p.read_bytes() if p.is_file() else None) for p in path.rglob("*"))


def test_export_refuses_to_replace_its_source_or_any_other_directory(tiny_gpt2_dir, tmp_path):
    before = tree(tiny_gpt2_dir)
    result = CliRunner().invoke(export, [str(tiny_gpt2_dir), "--out", str(tiny_gpt2_dir)])
    assert result.exit_code == 1 and "not an engine model directory" in result.output
    assert tree(tiny_gpt2_dir) == before  # the source run is untouched

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "keep.txt").write_text("mine")
    with pytest.raises(ModelLoadError, match="choose another directory"):
        export_model(tiny_gpt2_dir, notes)
    assert (notes / "keep.txt").read_text() == "mine" and not any(p.name.startswith(".") for p in tmp_path.iterdir())

    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelLoadError, match="not a directory"):
        export_model(tiny_gpt2_dir, tmp_path / "file")


def test_export_writes_an_empty_directory_and_replaces_an_earlier_export(tiny_gpt2_dir, tmp_path):
    out = tmp_path / "engine"
    out.mkdir()  # empty: fine
    first = export_model(tiny_gpt2_dir, out, name="first")
    assert is_model_dir(out)
    result = CliRunner().invoke(export, [str(tiny_gpt2_dir), "--out", str(out), "--name", "second"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "billion_songs_model.json").read_text())["name"] == "second" != first.name
    assert [p.name for p in tmp_path.iterdir()] == ["engine"]  # no staging directory left behind
