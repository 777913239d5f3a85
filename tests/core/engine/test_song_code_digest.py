"""model_version hashes the code that shapes a song, found by module name: a renamed or
missing module fails when modelfile is imported, not while a song is being written."""

import subprocess
import sys

import pytest

from billion_songs.core.engine import modelfile


def test_every_hashed_module_is_found_by_name():
    assert set(modelfile._SONG_FILES) == set(modelfile._SONG_MODULES)
    assert all(path.is_file() and path.suffix == ".py" for path in modelfile._SONG_FILES.values())
    assert "billion_songs.core.sampling" in modelfile._SONG_FILES  # hashed by name, wherever it lives


def test_a_missing_module_is_a_loud_import_error():
    with pytest.raises(ImportError, match="hashed into model_version is missing"):
        modelfile._module_file("billion_songs.core.no_such_module")


def test_the_digest_is_stable_across_processes():
    code = "from billion_songs.core.engine.modelfile import song_code_digest; print(song_code_digest())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == modelfile.song_code_digest()
