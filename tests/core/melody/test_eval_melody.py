import json

from click.testing import CliRunner

from billion_songs.cli import main
from billion_songs.core.evaluation.melody import format_melody_table, kar_matches, melody_report, song_from_dict
from billion_songs.core.melody import compose, to_kar


def test_report_over_fake_songs_meets_the_structural_goals(fake):
    songs = fake.generate(list(range(40)))
    report = melody_report(songs, "fake 0..39")
    figures = report["songs"]
    assert figures["songs"] == 40
    assert figures["in_key"] == 1.0 and figures["phrase_final_135"] == 1.0 and figures["range_ok"] == 1.0
    assert figures["leaps_over_octave"] == 0.0 and figures["kar_ok"] == 1.0
    assert abs(sum(figures["intervals"].values()) - 1.0) < 1e-9
    table = format_melody_table(report)
    assert "stepwise" in table and "corpus" in table


def test_kar_check_fails_when_the_words_differ(fake):
    song = fake.generate([8])[0]
    melody = compose(song)
    assert kar_matches(song, to_kar(melody), len(melody.notes))
    other = fake.generate([9])[0]
    assert not kar_matches(other, to_kar(melody), len(melody.notes))


def test_songs_round_trip_through_json(fake):
    song = fake.generate([11])[0]
    assert song_from_dict(json.loads(json.dumps(song.as_dict()))) == song


def test_eval_melody_cli_on_fake_songs_and_a_songs_file(fake, tmp_path):
    result = CliRunner().invoke(main, ["eval", "--melody", "--model", "fake", "--songs", "6",
                                       "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "phrase_final_135" in result.output and "goals:" in result.output
    assert json.loads((tmp_path / "r.json").read_text())["songs"]["songs"] == 6
    path = tmp_path / "songs.jsonl"
    path.write_text("".join(json.dumps(s.as_dict()) + "\n" for s in fake.generate([1, 2, 3])))
    result = CliRunner().invoke(main, ["eval", "--melody", "--songs-file", str(path)])
    assert result.exit_code == 0, result.output
    assert "songs (3)" in result.output
