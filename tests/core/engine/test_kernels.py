"""Loading compiled code safely (#12): the kernel cache is created private (0700), and a
library in a directory or file that another user could have written is never loaded."""

import os
import shutil
import subprocess
import sys

import pytest

from billion_songs.core.engine import kernels


def test_the_kernel_directory_is_created_private(tmp_path):
    directory = tmp_path / "a" / "kernels"
    assert kernels._private_dir(directory)
    assert directory.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("mode, safe", [(0o700, True), (0o755, True), (0o775, False), (0o777, False), (0o722, False)])
def test_group_or_other_write_bits_make_a_path_unsafe(tmp_path, mode, safe):
    library = tmp_path / "lib.so"
    library.write_bytes(b"\x7fELF")
    os.chmod(library, mode)
    os.chmod(tmp_path, mode)
    try:
        assert kernels.safe_to_load(library) is safe
        assert kernels.safe_to_load(tmp_path) is safe
    finally:
        os.chmod(tmp_path, 0o700)


def test_a_missing_path_is_not_safe(tmp_path):
    assert not kernels.safe_to_load(tmp_path / "missing.so")


@pytest.mark.slow
@pytest.mark.skipif(kernels.native() is None, reason="no native engine here")
def test_a_shared_cache_directory_is_not_loaded_from(tmp_path):
    """A world-writable kernels/ holding a library: it is not loaded; the engine builds in a
    fresh private directory instead and says so in one line."""
    shared = tmp_path / "cache" / "kernels"
    shared.mkdir(parents=True)
    built = kernels.native().__file__
    shutil.copy(built, shared / os.path.basename(built))
    os.chmod(shared, 0o777)
    env = {**os.environ, "BILLION_SONGS_CACHE": str(tmp_path / "cache")}
    code = "from billion_songs.core.engine import kernels; m = kernels.native(); print(m.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "not private to this user" in out.stderr
    assert not out.stdout.strip().startswith(str(shared))
    assert "billion-songs-kernels-" in out.stdout
