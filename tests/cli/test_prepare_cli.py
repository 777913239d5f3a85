"""`billion-songs prepare` through the real command group: the summary it prints, the files
it writes, and a clear error (never a traceback) for bad input."""

import json

import pytest
from click.testing import CliRunner

from billion_songs.cli import main

SONGS = (
    "artist,title,lyrics\r\n"
    'Ann,Morning Light,"wake up, wake up\r\nthe sun is on the hill   \r\n\r\n\r\n\r\nwake up"\r\n'  # 2-7
    "Bob,Short Row\r\n"  # 8: too few fields
    'Cid,Paper Boats,"fold the page\r\nand let it float"\r\n'  # 9-10
    'Dee,Empty,""\r\n'  # 11
    'Eve,Echo,"fold the page\r\nand let it float"\r\n'  # 12-13: duplicate of Paper Boats
    'Fay,Broken,"no closing quote\r\nstill going\r\n'  # 14-15: unclosed, closed by the next row's quote
    'Gus,Night Drive,"headlights on the road\r\nradio low"\r\n'  # 16-17
    'Hal,Rain,"tap tap\r\non the roof"\r\n'  # 18-19
)


def run(*args):
    result = CliRunner().invoke(main, ["prepare", *map(str, args)])
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def songs_csv(tmp_path):
    path = tmp_path / "songs.csv"
    path.write_bytes(b"\xef\xbb\xbf" + SONGS.encode("utf-8"))
    return path


def test_prepare_prints_the_summary_and_writes_the_dataset(songs_csv, tmp_path):
    out = tmp_path / "prepared"
    result = run(songs_csv, "--out", out, "--block-size", 64, "--val-fraction", 0.25, "--seed", 3)
    assert result.exit_code == 0, result.output
    summary = result.stdout
    assert f"Read {songs_csv}: 8 rows (title column 'title', lyrics column 'lyrics')" in summary
    assert "Bad rows: 2 (skipped)" in summary
    assert "  line 8: expected 3 fields, found 2" in summary
    assert "  lines 14-15: unclosed or stray quote: text follows a closing quote" in summary
    assert "Songs kept: 4" in summary
    assert "Skipped: 1 duplicate, 1 empty lyrics" in summary
    assert "Train: 3 songs, " in summary and "Val:   1 song, " in summary
    assert (
        "Tokenizer: gpt2 (50,258 ids; <|startoftitle|>=50257, <|endoftext|>=50256); block size 64" in summary
    )
    assert f"Wrote {out}" in summary
    assert "Reading" in result.stderr  # progress goes to stderr, the summary to stdout

    meta = json.loads((out / "meta.json").read_text())
    assert meta["block_size"] == 64 and meta["config"]["seed"] == 3 and meta["config"]["val_fraction"] == 0.25
    tokens = meta["splits"]["train"]["tokens"] + meta["splits"]["val"]["tokens"]
    assert f"{meta['splits']['train']['tokens']:,} tokens" in summary and tokens > 0
    assert {p.name for p in out.iterdir()} == {
        "meta.json",
        "tokenizer",
        "train.tokens.npy",
        "train.offsets.npy",
        "val.tokens.npy",
        "val.offsets.npy",
    }


def test_named_columns_and_rerun_replaces(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Performer;Track Title;Words\nAnn;One;la la\nBob;Two;na na\n", encoding="utf-8")
    out = tmp_path / "prepared"
    first = run(path, "--out", out, "--title-column", "track title", "--lyrics-column", "Words")
    assert first.exit_code == 0, first.output
    assert "title column 'Track Title', lyrics column 'Words'" in first.stdout
    second = run(path, "--out", out, "--title-column", "Track Title", "--lyrics-column", "words")
    assert second.exit_code == 0 and f"Replaced {out}" in second.stdout


def test_long_songs_are_reported(tmp_path):
    path = tmp_path / "long.csv"
    lyrics = "\n".join(f"this line goes on and on, number {i}" for i in range(30))
    path.write_text(f'title,lyrics\nLong,"{lyrics}"\nShort,la\n', encoding="utf-8")
    split = run(path, "--out", tmp_path / "a", "--block-size", 32, "--val-fraction", 0)
    assert "Split (longer than 32 tokens): 1 song" in split.stdout
    skip = run(path, "--out", tmp_path / "b", "--block-size", 32, "--val-fraction", 0, "--long-songs", "skip")
    assert "Skipped: 1 too long" in skip.stdout and "Songs kept: 1" in skip.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Error: no such file"),
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "looks like a binary file, not a CSV"),
        (b"artist,year\nAnn,1999\n", "missing lyrics column (looked for lyrics, lyric, text"),
        (b"title,lyrics\nOne,\n", "no songs to write"),
        ("title,lyrics\nCaf\u00e9,la\n".encode("cp1252"), "undecodable byte at line 2"),
    ],
    ids=["missing", "empty", "binary", "columns", "no-songs", "encoding"],
)
def test_bad_input_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    result = run(path, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert message in result.stderr
    assert isinstance(result.exception, SystemExit)  # a ClickException's exit, not a crash
    assert not (tmp_path / "out").exists()


def test_missing_named_column_lists_the_header(songs_csv, tmp_path):
    result = run(songs_csv, "--out", tmp_path / "out", "--lyrics-column", "words")
    assert result.exit_code == 1
    assert "missing lyrics column 'words'. The header has: 'artist', 'title', 'lyrics'" in result.stderr


def test_bad_tokenizer_and_bad_out_are_clear_errors(songs_csv, tmp_path):
    result = run(songs_csv, "--out", tmp_path / "out", "--tokenizer", tmp_path / "no-such-tokenizer")
    assert result.exit_code == 1 and "tokenizer directory" in result.stderr
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    result = run(songs_csv, "--out", tmp_path / "notes")
    assert result.exit_code == 1 and "not a prepared dataset" in result.stderr


def test_option_ranges_are_checked(songs_csv, tmp_path):
    out = ("--out", tmp_path / "out")
    assert run(songs_csv, *out, "--block-size", 2).exit_code == 2
    assert run(songs_csv, *out, "--val-fraction", 1).exit_code == 2
    assert run(songs_csv, *out, "--long-songs", "truncate").exit_code == 2
    assert not (tmp_path / "out").exists()


def test_many_bad_rows_are_listed_up_to_a_limit(tmp_path):
    path = tmp_path / "many.csv"
    rows = "".join(f"Title {i},lyrics {i}\n" if i % 2 else f"Broken {i}\n" for i in range(60))
    path.write_text("title,lyrics\n" + rows, encoding="utf-8")
    result = run(path, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "Bad rows: 30 (skipped)" in result.stdout
    assert "  line 2: expected 2 fields, found 1" in result.stdout  # row 0 is on line 2
    assert "  line 40: expected 2 fields, found 1" in result.stdout  # the 20th
    assert "  line 42:" not in result.stdout
    assert "  ... and 10 more (listed in meta.json)" in result.stdout
    assert len(json.loads((tmp_path / "out" / "meta.json").read_text())["bad_rows"]) == 30


def test_help_shows_the_options():
    result = run("--help")
    assert result.exit_code == 0
    for option in (
        "FILE.csv",
        "--lyrics-column",
        "--title-column",
        "--out",
        "--tokenizer",
        "--block-size",
        "--val-fraction",
        "--seed",
        "--long-songs",
    ):
        assert option in result.stdout
