"""The design on paper and in the code agree: the import-linter contracts of pyproject.toml
(the layers of the README's design section) are kept, and the docs' maps of the folders
name only what exists, and every module of billion_songs/web/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "billion_songs" / "web"


def test_import_contracts_are_kept(capsys):
    lint_imports = pytest.importorskip("importlinter.cli").lint_imports
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert status == 0, capsys.readouterr().out


def map_entries(document: Path, heading: str) -> list[str]:
    """The paths named in the first code block under `heading`: the first word of each
    line, with {a,b} expanded (`config/{urls,asgi}.py`)."""
    text = document.read_text()
    section = text[text.index(heading):]
    block = section.split("```", 2)[1]
    entries = []
    for line in block.splitlines()[1:]:
        word = line.split(maxsplit=1)[0] if line.strip() else ""
        match = re.fullmatch(r"(.*)\{(.+)\}(.*)", word)
        entries += [match[1] + choice + match[3] for choice in match[2].split(",")] if match else [word] if word else []
    return entries


def uncovered(modules: list[str], entries: list[str]) -> list[str]:
    """The modules the map leaves out. A folder entry ("accounts/") covers what is in it,
    unless the map also names files inside it: then each must be named."""
    folders = [entry for entry in entries if entry.endswith("/")]
    missing = []
    for module in modules:
        if module in entries:
            continue
        inside = [folder for folder in folders if module.startswith(folder)]
        deepest = max(inside, key=len, default=None)
        if deepest is None or any(e.startswith(deepest) and not e.endswith("/") for e in entries):
            missing.append(module)
    return missing


def test_the_web_map_names_every_module_and_only_modules_that_exist():
    entries = map_entries(ROOT / "docs" / "web.md", "## Design")
    assert entries and entries[0] == "billion_songs/web/"
    entries = entries[1:]
    assert [entry for entry in entries if not (WEB / entry).exists()] == []
    modules = sorted(str(path.relative_to(WEB)) for path in WEB.rglob("*.py")
                     if path.name != "__init__.py" and "__pycache__" not in path.parts)
    assert uncovered(modules, entries) == []


def test_the_readme_map_names_only_folders_that_exist():
    entries = map_entries(ROOT / "README.md", "## Design: the map")
    assert len(entries) > 5
    assert [entry for entry in entries if not (ROOT / entry).exists()] == []


def test_the_map_check_finds_a_module_left_out():
    entries = ["songs/data/", "songs/data/models.py", "accounts/"]
    assert uncovered(["songs/data/models.py", "songs/data/selectors.py", "accounts/views.py"], entries) == [
        "songs/data/selectors.py"]
