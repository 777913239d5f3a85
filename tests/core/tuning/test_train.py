"""`train` on a tiny GPT-2: LoRA learns and writes a loadable adapter, Ctrl-C saves a
checkpoint, and resuming continues exactly as if the run had never stopped."""

import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from billion_songs.core.tuning.checkpoint import CHECKPOINT, find_checkpoint, load_checkpoint
from billion_songs.core.tuning.train import resume, train
from billion_songs.core.tuning.train_config import TrainError
from tests.tuning_fixtures import one_thread, prepared_dir, small_config  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")
START_OF_TITLE_ID = 50257  # prepare adds <|startoftitle|> after GPT-2's 50257 tokens


def test_a_lora_run_learns_and_leaves_an_adapter_that_names_its_base(prepared_dir, tiny_gpt2_dir, tmp_path):
    messages = []
    result = train(small_config(prepared_dir, tmp_path / "run", tiny_gpt2_dir, max_steps=8, sample_interval=4,
                                samples=1), say=messages.append, progress=False)

    assert not result.interrupted and result.step == 8
    state = load_checkpoint(result.checkpoint)[1]
    losses = [loss for _, loss in state.train_losses]
    assert len(losses) == 8 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.15  # it learns
    assert [step for step, _ in state.val_losses] == [3, 6, 8]
    val = [loss for _, loss in state.val_losses]
    assert val == sorted(val, reverse=True) and result.val_loss == val[-1]

    run = result.model_dir
    config = json.loads((run / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tiny_gpt2_dir.resolve())
    assert config["trainable_token_indices"] == [START_OF_TITLE_ID]
    weights = load_file(run / "adapter_model.safetensors")
    new_row = [name for name in weights if "trainable_tokens_delta" in name]
    assert len(new_row) == 1 and weights[new_row[0]].shape == (1, 64)  # only the new row, not the matrix
    assert (run / "tokenizer.json").is_file()
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert any(m.startswith("Tuning ") and "new token rows [50257]" in m for m in messages)
    assert any(m.startswith("step 6: train loss") and "val loss" in m for m in messages)
    assert any(m.startswith("--- samples at step 4 ---") for m in messages)
    assert any(m.startswith("--- samples at step 8 ---") for m in messages)


def test_ctrl_c_saves_a_checkpoint_and_resume_continues_exactly(prepared_dir, tiny_gpt2_dir, tmp_path):
    straight = train(small_config(prepared_dir, tmp_path / "straight", tiny_gpt2_dir), progress=False)

    def ctrl_c_at_step_3(step, loss):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

    stopped = train(small_config(prepared_dir, tmp_path / "stopped", tiny_gpt2_dir), progress=False,
                    on_step=ctrl_c_at_step_3, say=lambda m: None)
    assert stopped.interrupted and stopped.step == 3 and stopped.model_dir is None
    assert not (tmp_path / "stopped" / "adapter_config.json").exists()  # no final model yet
    config, state = load_checkpoint(tmp_path / "stopped" / CHECKPOINT)
    assert state.step == 3 and config.max_steps == 6  # the checkpoint carries its own config
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored

    resumed = resume(tmp_path / "stopped", progress=False, say=lambda m: None)
    assert not resumed.interrupted and resumed.step == 6

    expected = load_checkpoint(straight.checkpoint)[1]
    got = load_checkpoint(resumed.checkpoint)[1]
    assert got.train_losses == expected.train_losses  # same batches, dropout, optimizer: bit for bit
    assert got.val_losses == expected.val_losses
    a = load_file(straight.model_dir / "adapter_model.safetensors")
    b = load_file(resumed.model_dir / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_may_extend_max_steps(prepared_dir, tiny_gpt2_dir, tmp_path):
    first = train(small_config(prepared_dir, tmp_path / "run", tiny_gpt2_dir, max_steps=2, eval_interval=100),
                  progress=False, say=lambda m: None)
    assert first.step == 2
    longer = resume(tmp_path / "run", max_steps=4, progress=False, say=lambda m: None)
    assert longer.step == 4 and longer.max_steps == 4
    assert [s for s, _ in load_checkpoint(longer.checkpoint)[1].train_losses] == [1, 2, 3, 4]


def test_a_new_run_never_overwrites_an_existing_one(prepared_dir, tiny_gpt2_dir, tmp_path):
    train(small_config(prepared_dir, tmp_path / "run", tiny_gpt2_dir, max_steps=1), progress=False, say=lambda m: None)
    with pytest.raises(TrainError, match="already holds a run .* --resume"):
        train(small_config(prepared_dir, tmp_path / "run", tiny_gpt2_dir, max_steps=1), progress=False)
    with pytest.raises(TrainError, match="no checkpoint to resume"):
        resume(tmp_path / "elsewhere", progress=False)


def test_full_fine_tuning_writes_a_hugging_face_checkpoint(prepared_dir, tiny_gpt2_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    result = train(small_config(prepared_dir, tmp_path / "full", tiny_gpt2_dir, method="full", max_steps=2,
                                learning_rate=1e-3), progress=False, say=lambda m: None)
    run = result.model_dir
    assert (run / "config.json").is_file() and not (run / "adapter_config.json").exists()
    tuned = AutoModelForCausalLM.from_pretrained(run)
    base = AutoModelForCausalLM.from_pretrained(tiny_gpt2_dir)
    assert tuned.get_input_embeddings().weight.shape[0] == 50258  # resized for <|startoftitle|>
    changed = tuned.transformer.h[0].mlp.c_fc.weight - base.transformer.h[0].mlp.c_fc.weight
    assert changed.abs().max() > 0  # every weight trains, not only adapters


def test_the_dataset_must_be_tokenized_for_the_base(prepared_dir, tiny_gpt2_dir, tmp_path):
    from transformers import AutoTokenizer

    other = tmp_path / "shuffled-base"
    other.mkdir()
    for name in ("config.json", "model.safetensors"):
        (other / name).write_bytes((tiny_gpt2_dir / name).read_bytes())
    tokenizer = json.loads((tiny_gpt2_dir / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    vocab["hello"], vocab["world"] = vocab["world"], vocab["hello"]  # two ids swapped
    (other / "tokenizer.json").write_text(json.dumps(tokenizer))
    AutoTokenizer.from_pretrained(tiny_gpt2_dir).save_pretrained(tmp_path / "tmp-tok")
    (other / "tokenizer_config.json").write_bytes((tmp_path / "tmp-tok" / "tokenizer_config.json").read_bytes())
    with pytest.raises(TrainError, match="does not match base .*2 of 50,257 tokens differ"):
        train(small_config(prepared_dir, tmp_path / "run", other), progress=False, say=lambda m: None)
    assert find_checkpoint(tmp_path / "run") is None
