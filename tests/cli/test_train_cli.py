"""From a CSV to a served song through the commands: prepare, train (progress, validation,
samples, checkpoint), Ctrl-C and --resume, export, then a deterministic song from the
exported model under a version that is not the base's."""

import os
import signal

import pytest
from click.testing import CliRunner

from billion_songs.cli.export import export
from billion_songs.cli.prepare import prepare
from billion_songs.cli.train import train
from billion_songs.core.engine.modelfile import read_model_dir
from billion_songs.core.loader import load_generator, resolve_model_dir
from billion_songs.core.tuning import train as training
from tests.tuning_fixtures import one_thread, write_lyrics_csv  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = ["--batch-size", "2", "--lr", "0.03", "--warmup-steps", "1", "--lora-r", "4", "--eval-batches", "2",
         "--sample-tokens", "12", "--no-progress"]


def invoke(command, *args):
    result = CliRunner().invoke(command, [str(arg) for arg in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-train")
    result = invoke(prepare, write_lyrics_csv(root / "songs.csv"), "--out", root / "data", "--block-size", 64,
                    "--val-fraction", 0.2)
    assert result.exit_code == 0, result.output
    return root / "data"


def test_csv_to_trained_exported_song(data_dir, tiny_gpt2_dir, tmp_path):
    run = tmp_path / "tiny-lyrics"
    result = invoke(train, "--data", data_dir, "--base", tiny_gpt2_dir, "--out", run, "--max-steps", 4,
                    "--eval-interval", 2, "--sample-interval", 4, "--samples", 1, "--checkpoint-interval", 2, *SMALL)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Tuning " in out and "LoRA r=4" in out
    assert "step 2: train loss" in out and "val loss" in out
    assert "--- samples at step 4 ---" in out
    assert "Step 4/4: train loss" in out and "tokens/s" in out
    assert f"Model: {run}" in out and (run / "adapter_config.json").is_file() and (run / "loss.png").is_file()

    resumed = invoke(train, "--out", run, "--resume", "--max-steps", 6, "--lr", "1", "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming at step 4" in resumed.output and "Step 6/6" in resumed.output
    assert "ignoring --lr" in resumed.output  # the run keeps its own settings

    exported = invoke(export, run, "--out", tmp_path / "engine")
    assert exported.exit_code == 0, exported.output
    version = exported.output.split("model_version: ")[1].split()[0]
    assert version.startswith("tiny-lyrics-")
    assert version != read_model_dir(resolve_model_dir(str(tiny_gpt2_dir))).model_version

    first = load_generator(str(tmp_path / "engine")).generate([42, 43])
    again = load_generator(str(tmp_path / "engine")).generate([43])
    assert first[1] == again[0] and first[0].model_version == version


def test_ctrl_c_saves_a_checkpoint_and_exits_with_130(data_dir, tiny_gpt2_dir, tmp_path, monkeypatch):
    real_step = training._train_step
    steps = []

    def step_then_ctrl_c(*args, **kwargs):
        steps.append(1)
        outcome = real_step(*args, **kwargs)
        if len(steps) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return outcome

    monkeypatch.setattr(training, "_train_step", step_then_ctrl_c)
    run = tmp_path / "run"
    result = invoke(train, "--data", data_dir, "--base", tiny_gpt2_dir, "--out", run, "--max-steps", 5,
                    "--sample-interval", 0, *SMALL)
    assert result.exit_code == 130, result.output
    assert "Stopping after this step" in result.output
    assert "Step 2/5" in result.output and f"billion-songs train --out {run} --resume" in result.output
    assert (run / "checkpoint" / "trainer_state.pt").is_file() and not (run / "adapter_config.json").exists()


def test_train_errors_are_messages_not_tracebacks(data_dir, tmp_path):
    missing = invoke(train, "--out", tmp_path / "run")
    assert missing.exit_code == 2 and "--data DIR is required" in missing.output
    nothing = invoke(train, "--out", tmp_path / "nothing", "--resume")
    assert nothing.exit_code == 1 and "no checkpoint to resume" in nothing.output
    bad_data = invoke(train, "--data", tmp_path, "--out", tmp_path / "run")
    assert bad_data.exit_code == 1 and "not a prepared dataset" in bad_data.output
    bad_base = invoke(train, "--data", data_dir, "--base", tmp_path / "no-such-model", "--out", tmp_path / "r2")
    assert bad_base.exit_code == 1 and "no-such-model" in bad_base.output
