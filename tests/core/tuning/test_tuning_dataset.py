"""The prepared-dataset directory: atomic writes and loading."""

import json

import numpy as np
import pytest

from billion_songs.core.tuning import dataset
from billion_songs.core.tuning.chunking import pack_songs
from billion_songs.core.tuning.errors import PrepareError


def siblings(path):
    return sorted(p.name for p in path.parent.iterdir())


def write_tiny_dataset(directory):
    chunks = pack_songs([[1, 2, 3], [4, 5]], block_size=4, dtype=np.uint16)
    dataset.write_split(directory, "train", chunks)
    dataset.write_split(directory, "val", pack_songs([[6]], block_size=4, dtype=np.uint16))
    dataset.write_meta(directory, {"note": "tiny"})


def test_written_directory_loads_back(tmp_path):
    out = tmp_path / "ds"
    with dataset.atomic_directory(out) as staging:
        write_tiny_dataset(staging)
    loaded = dataset.load_prepared(out)
    assert loaded.meta == {"format_version": dataset.FORMAT_VERSION, "note": "tiny"}
    assert [chunk.tolist() for chunk in loaded.train] == [[1, 2, 3], [4, 5]]
    assert loaded.train[-1].tolist() == [4, 5]
    assert [chunk.tolist() for chunk in loaded.val] == [[6]]
    assert loaded.train.tokens.dtype == np.uint16
    assert siblings(out) == ["ds"]  # no staging directory left behind


def test_a_crash_while_writing_leaves_nothing(tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(RuntimeError), dataset.atomic_directory(out) as staging:
        write_tiny_dataset(staging)
        raise RuntimeError("power cut")
    assert siblings(out) == []


def test_an_interrupt_while_replacing_keeps_the_old_dataset(tmp_path):
    out = tmp_path / "ds"
    with dataset.atomic_directory(out) as staging:
        write_tiny_dataset(staging)
    with pytest.raises(KeyboardInterrupt), dataset.atomic_directory(out) as staging:
        (staging / dataset.META).write_text("{half")
        raise KeyboardInterrupt
    assert dataset.load_prepared(out).meta["note"] == "tiny"
    assert siblings(out) == ["ds"]


def test_an_earlier_dataset_is_replaced(tmp_path):
    out = tmp_path / "ds"
    for note in ("first", "second"):
        with dataset.atomic_directory(out) as staging:
            write_tiny_dataset(staging)
            dataset.write_meta(staging, {"note": note})
    assert dataset.load_prepared(out).meta["note"] == "second"
    assert siblings(out) == ["ds"]


def test_an_empty_directory_is_used(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    with dataset.atomic_directory(out) as staging:
        write_tiny_dataset(staging)
    assert dataset.load_prepared(out).meta["note"] == "tiny"


def test_other_directories_and_files_are_never_overwritten(tmp_path):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.txt").write_text("years of work")
    (tmp_path / "file").write_text("x")
    with pytest.raises(PrepareError, match="not a prepared dataset"):
        dataset.check_output_dir(tmp_path / "precious")
    with pytest.raises(PrepareError, match="not a directory"):
        dataset.check_output_dir(tmp_path / "file")
    assert (tmp_path / "precious" / "thesis.txt").read_text() == "years of work"


def test_loading_something_that_is_not_a_dataset(tmp_path):
    with pytest.raises(PrepareError, match="not a prepared dataset"):
        dataset.load_prepared(tmp_path)
    (tmp_path / dataset.META).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(PrepareError, match="format 99"):
        dataset.load_prepared(tmp_path)


def test_output_directory_permissions_follow_the_umask(tmp_path):
    out = tmp_path / "ds"
    with dataset.atomic_directory(out) as staging:
        write_tiny_dataset(staging)
    reference = tmp_path / "reference"
    reference.mkdir()
    assert out.stat().st_mode == reference.stat().st_mode  # not tempfile's private 0700
