"""`billion-songs song ID --midi/--kar/--abc` on a tiny GPT-2 model."""

import io
import json

import mido
import pytest
from click.testing import CliRunner

from billion_songs.cli import main
from billion_songs.core.melody.kar import lyric_events, lyric_text


@pytest.fixture
def user_cache(monkeypatch):
    """The embedded model from the user's cache (converted once), not a fresh temp cache."""
    monkeypatch.delenv("BILLION_SONGS_CACHE", raising=False)


@pytest.mark.slow
@pytest.mark.embedded
def test_song_writes_midi_kar_and_abc(user_cache, tmp_path):
    """A song of the default model (the embedded one: its songs pass the checks)."""
    files = {ext: tmp_path / f"out.{ext}" for ext in ("mid", "kar", "abc")}
    args = ["song", "1000", "--json", "--midi", str(files["mid"]), "--kar", str(files["kar"]),
            "--abc", str(files["abc"])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    song = json.loads(result.stdout.splitlines()[0])
    assert song["ok"]
    midi = mido.MidiFile(file=io.BytesIO(files["mid"].read_bytes()))
    assert [t.name for t in midi.tracks] == ["Conductor", "Melody", "Chords"]
    kar = files["kar"].read_bytes()
    assert lyric_text(lyric_events(kar)).split() == song["lyrics"].split()
    assert files["abc"].read_text().startswith("X:1\n")
    # the same song, the same bytes
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and files["kar"].read_bytes() == kar


@pytest.mark.slow
def test_a_failed_song_gets_no_tune_and_a_clear_error(tiny_gpt2_dir, tmp_path):
    """A random-weight model writes gibberish: the song fails its checks and has nothing to sing."""
    result = CliRunner().invoke(main, ["song", "0", "--json", "--model", str(tiny_gpt2_dir)])
    assert result.exit_code == 0 and not json.loads(result.stdout.splitlines()[0])["ok"]
    result = CliRunner().invoke(main, ["song", "0", "--model", str(tiny_gpt2_dir), "--midi", str(tmp_path / "x.mid")])
    assert result.exit_code != 0 and "no lyrics to sing" in result.output
    assert not (tmp_path / "x.mid").exists()


def test_melody_options_are_in_the_help():
    result = CliRunner().invoke(main, ["song", "--help"])
    assert "--midi" in result.output and "--kar" in result.output and "--abc" in result.output
