"""`billion-songs song ID --midi/--kar/--abc` on a tiny GPT-2 model."""

import io
import json

import mido
import pytest
from click.testing import CliRunner

from billion_songs.cli import main
from billion_songs.core.melody.kar import lyric_events, lyric_text


@pytest.fixture
def tiny_songs(tiny_gpt2_dir):
    """The tiny model's first songs: it fails many songs' quality checks, passes some."""
    result = CliRunner().invoke(main, ["songs", "--from", "0", "--count", "6", "--json",
                                       "--model", str(tiny_gpt2_dir)])
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.slow
def test_song_writes_midi_kar_and_abc_and_refuses_a_failed_song(tiny_gpt2_dir, tiny_songs, tmp_path):
    song = next(s for s in tiny_songs if s["ok"])
    files = {ext: tmp_path / f"out.{ext}" for ext in ("mid", "kar", "abc")}
    args = ["song", str(song["id"]), "--model", str(tiny_gpt2_dir), "--json",
            "--midi", str(files["mid"]), "--kar", str(files["kar"]), "--abc", str(files["abc"])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0]) == song
    midi = mido.MidiFile(file=io.BytesIO(files["mid"].read_bytes()))
    assert [t.name for t in midi.tracks] == ["Conductor", "Melody", "Chords"]
    kar = files["kar"].read_bytes()
    assert lyric_text(lyric_events(kar)).split() == song["lyrics"].split()
    assert files["abc"].read_text().startswith("X:1\n")
    # the same song, the same bytes
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and files["kar"].read_bytes() == kar

    # a failed song has no lyrics: no tune, and a clear error
    failed = next(s for s in tiny_songs if not s["ok"])
    result = CliRunner().invoke(main, ["song", str(failed["id"]), "--model", str(tiny_gpt2_dir),
                                       "--midi", str(tmp_path / "x.mid")])
    assert result.exit_code != 0 and "no lyrics to sing" in result.output
    assert not (tmp_path / "x.mid").exists()


def test_melody_options_are_in_the_help():
    result = CliRunner().invoke(main, ["song", "--help"])
    assert "--midi" in result.output and "--kar" in result.output and "--abc" in result.output
