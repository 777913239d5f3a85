"""The eval report of real (tiny) models: the JSON's shape and the table, base vs tuned."""

import json

import pytest
from click.testing import CliRunner

from billion_songs.cli.eval import eval as eval_command
from billion_songs.core.evaluation.report import EvalConfig, evaluate, format_table
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
        assert len(report["examples"]) == 3 and report["examples"][0]["id"] == 10
    assert "reads <|endoftext|>" in base["validation"]["note"]
    assert any("3/3 songs" in message for message in said)

    table = format_table(result)
    header, _rule, *rows = table.splitlines()
    assert header.split() == ["metric", tiny_gpt2_dir.name, tiny_lyrics_gpt2_dir.name]
    labels = [row.split("  ")[0] for row in rows]
    assert labels[:3] == ["degenerate (loops)", "failed all attempts", "distinct-2"]
    assert rows[-1].split()[1:] == [base["model_version"], tuned["model_version"]]


def test_the_eval_command_writes_json_and_prints_the_table(prepared_dir, tiny_lyrics_gpt2_dir, tmp_path):
    out = tmp_path / "reports" / "report.json"
    result = CliRunner().invoke(eval_command, ["--model", str(tiny_lyrics_gpt2_dir), "--songs", "2",
                                               "--data", str(prepared_dir), "--val-tokens", "32", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["reports"][0]["metrics"]["songs"] == 2
    assert "rhyme density" in result.output and "val perplexity (int8)" in result.output
    assert f"Report: {out}" in result.output

    without_data = CliRunner().invoke(eval_command, ["--model", str(tiny_lyrics_gpt2_dir), "--songs", "1"])
    assert without_data.exit_code == 0, without_data.output
    assert "n/a" in without_data.output.split("val perplexity (int8)")[1].splitlines()[0]

    missing = CliRunner().invoke(eval_command, ["--model", str(tmp_path / "nope"), "--songs", "1"])
    assert missing.exit_code == 1 and "no such model directory" in missing.output
