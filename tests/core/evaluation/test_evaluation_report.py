"""The eval report of real (tiny) models: the JSON's shape and the table, base vs tuned."""

import json

import pytest
from click.testing import CliRunner

from billion_songs.cli.eval import eval as eval_command
from billion_songs.core.evaluation.report import EvalConfig, evaluate, format_table, speed
from billion_songs.core.tuning.dataset import load_prepared
from tests.tuning_fixtures import one_thread, prepared_dir  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_report_compares_models_on_the_same_song_ids(prepared_dir, tiny_gpt2_dir, tiny_lyrics_gpt2_dir):
    said = []
    result = evaluate([str(tiny_gpt2_dir), str(tiny_lyrics_gpt2_dir)], EvalConfig(songs=3, first_id=10, val_tokens=64),
                      data=load_prepared(prepared_dir), say=said.append)
    base, tuned = result["reports"]
    assert result["config"]["songs"] == 3 and base["song_ids"] == tuned["song_ids"] == [10, 12]
    assert base["model_version"] != tuned["model_version"]
    for report in (base, tuned):
        metrics = report["metrics"]
        assert metrics["songs"] == 3
        for share in ("degenerate", "failed", "distinct_2", "distinct_3", "with_title", "artifacts", "rhyme_density"):
            assert 0.0 <= metrics[share] <= 1.0
        assert report["validation"]["method"] == "int8 engine" and report["validation"]["perplexity"] > 1
        assert report["memorization"]["run_words"] == 8 and report["memorization"]["corpus_tokens"] > 0
        form = report["songform"]
        assert form["songs"] == 3 and form["run_words"] == 8
        for share in ("song_shaped", "rhyming_lines", "clean_titles", "title_in_lyrics", "archaic_lines",
                      "prose_lines", "loops", "copies_example"):
            assert 0.0 <= form[share] <= 1.0
        seconds = report["seconds"]
        assert seconds["load"] >= 0 and seconds["per_song"] == pytest.approx(seconds["generate"] / 3, abs=0.01)
        assert seconds["songs_per_minute"] > 0
        assert len(report["examples"]) == 3 and report["examples"][0]["id"] == 10
    assert "reads <|endoftext|>" in base["validation"]["note"]
    assert any("3/3 songs" in message for message in said)

    table = format_table(result)
    header, _rule, *rows = table.splitlines()
    assert header.split() == ["metric", "goal", tiny_gpt2_dir.name, tiny_lyrics_gpt2_dir.name]
    labels = [row.split("  ")[0] for row in rows]
    assert labels[:3] == ["degenerate (loops)", "failed all attempts", "distinct-2"]
    assert {"song-shaped", "rhyming lines", "seconds per song", "songs per minute"} <= set(labels)
    assert rows[-1].split()[1:] == [base["model_version"], tuned["model_version"]]


def test_speed_is_per_song_and_per_written_line():
    assert speed(10.0, 5, 40) == {"generate": 10.0, "per_song": 2.0, "per_written_line": 0.25, "songs_per_minute": 30.0}
    assert speed(0.0, 1, 0) == {"generate": 0.0, "per_song": 0.0, "per_written_line": None, "songs_per_minute": None}


def report(model, failed, song_shaped, per_song):
    return {"model": model, "model_version": f"{model}-v", "metrics": {"songs": 20, "failed": failed},
            "songform": {"song_shaped": song_shaped, "rhyming_lines": 0.5, "copies_example": 0.0},
            "seconds": {"per_song": per_song}}


def test_the_table_prints_each_goal_beside_its_row():
    table = format_table({"reports": [report("runs/old", 0.15, 0.2, 3.0), report("runs/new", 0.0, 0.95, 1.5)]})
    cells = {line.split("  ")[0]: line.split()[-3:] for line in table.splitlines()}
    assert table.splitlines()[0].split() == ["metric", "goal", "old", "new"]
    assert cells["song-shaped"] == [">=95%", "20.0%", "95.0%"]
    assert cells["rhyming lines"] == [">=50%", "50.0%", "50.0%"]
    assert cells["failed all attempts"] == ["<1%", "15.0%", "0.0%"]
    assert cells["copies the example (8+ words)"] == ["0%", "0.0%", "0.0%"]
    assert cells["archaic lines"] == ["<1%", "n/a", "n/a"]  # not in this report
    assert cells["seconds per song"][-2:] == ["3.00", "1.50"]  # a row without a goal
    assert cells["model_version"][-2:] == ["runs/old-v", "runs/new-v"]


def test_the_eval_command_writes_json_and_prints_the_table(prepared_dir, tiny_lyrics_gpt2_dir, tmp_path):
    out = tmp_path / "reports" / "report.json"
    result = CliRunner().invoke(eval_command, ["--model", str(tiny_lyrics_gpt2_dir), "--songs", "2",
                                               "--data", str(prepared_dir), "--val-tokens", "32", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["reports"][0]["metrics"]["songs"] == 2
    assert "rhyme density" in result.output and "val perplexity (int8)" in result.output
    assert "song-shaped" in result.output and ">=95%" in result.output and "seconds per written line" in result.output
    assert len(report["reports"][0]["examples"]) == 2  # at most --examples (3), at most the songs
    assert f"Report: {out}" in result.output

    without_data = CliRunner().invoke(eval_command, ["--model", str(tiny_lyrics_gpt2_dir), "--songs", "2",
                                                     "--first-id", "5", "--examples", "1", "--out", str(out)])
    assert without_data.exit_code == 0, without_data.output
    examples = json.loads(out.read_text())["reports"][0]["examples"]
    assert [song["id"] for song in examples] == [5]
    assert "n/a" in without_data.output.split("val perplexity (int8)")[1].splitlines()[0]

    missing = CliRunner().invoke(eval_command, ["--model", str(tmp_path / "nope"), "--songs", "1"])
    assert missing.exit_code == 1 and "no such model directory" in missing.output
