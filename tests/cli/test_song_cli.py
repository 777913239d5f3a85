"""`billion-songs song` and `songs` on a tiny GPT-2 model."""

import json

import pytest
from click.testing import CliRunner

from billion_songs.cli import main


@pytest.fixture()
def run(tiny_gpt2_dir):
    def invoke(*args):
        return CliRunner().invoke(main, [*args, "--model", str(tiny_gpt2_dir)])
    return invoke


def test_song_prints_title_blank_line_lyrics(run):
    result = run("song", "7")
    assert result.exit_code == 0, result.output
    # A random-weight model never passes the guards: the song prints, with a note on stderr.
    assert "song 7: every attempt failed the quality checks" in result.stderr
    as_json = json.loads(run("song", "7", "--json").stdout)
    assert set(as_json) >= {"id", "title", "lyrics", "model_version"}
    assert result.stdout == f"{as_json['title']}\n\n{as_json['lyrics']}\n"


def test_songs_prints_each_song_as_song_does_in_id_order(run):
    many = run("songs", "--from", "5", "--count", "3", "--batch-size", "2")
    assert many.exit_code == 0, many.output
    singles = [run("song", str(i)).stdout for i in (5, 6, 7)]
    assert many.stdout == "%%\n".join(singles)
    lines = run("songs", "--from", "5", "--count", "3", "--json").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [5, 6, 7]


@pytest.mark.parametrize("bad, message", [
    ("18446744073709551616", "at most 18446744073709551615"),
    ("abc", "whole number"),
    ("1.5", "whole number"),
])
def test_bad_ids_are_clear_errors(bad, message):
    result = CliRunner().invoke(main, ["song", bad])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args", [["song", "-3"], ["song", "--", "-3"], ["song", "--json", "-3"]])
def test_negative_id_is_a_clear_error(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "must not be negative" in result.output


def test_a_missing_model_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["song", "1", "--model", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "no such model directory" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
