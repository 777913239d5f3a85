"""The pieces of the training loop on their own: batches, the LR schedule, checkpoints
that are never half-written, the Ctrl-C flag."""

import os
import signal

import numpy as np
import pytest

from billion_songs.core.tuning.batches import IGNORE, ChunkSampler, collate, fixed_batches
from billion_songs.core.tuning.checkpoint import (
    CHECKPOINT,
    TrainerState,
    find_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from billion_songs.core.tuning.dataset import TokenChunks
from billion_songs.core.tuning.interrupt import StopRequest
from billion_songs.core.tuning.plot import smooth
from billion_songs.core.tuning.train import lr_factor
from billion_songs.core.tuning.train_config import TrainConfig, TrainError


def chunks_of(*lengths) -> TokenChunks:
    offsets = np.cumsum([0, *lengths]).astype(np.int64)
    return TokenChunks(tokens=np.arange(offsets[-1], dtype=np.uint16) + 1, offsets=offsets)


def test_a_batch_pads_right_and_masks_padding_out_of_the_loss():
    batch = collate([np.array([5, 6, 7]), np.array([8])], block_size=16, pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.labels.tolist() == [[5, 6, 7], [8, IGNORE, IGNORE]]
    assert batch.tokens == 4
    assert collate([np.arange(10)], block_size=4, pad_id=0).input_ids.shape == (1, 4)  # cut to the block


def test_the_sampler_shows_every_chunk_once_per_epoch_and_resumes_where_it_was():
    data = chunks_of(*range(2, 9))  # 7 chunks; the first token of chunk i identifies it
    firsts = {int(data[i][0]): i for i in range(len(data))}
    sampler = ChunkSampler(data, batch_size=3, block_size=64, pad_id=0, seed=1)
    seen = [firsts[int(row[0])] for _ in range(7) for row in sampler.next_batch().input_ids]  # 3 epochs
    assert sorted(seen[:7]) == sorted(seen[7:14]) == list(range(7))
    assert seen[:7] != seen[7:14]  # a new order each epoch

    state = sampler.state_dict()
    ahead = [sampler.next_batch().input_ids.tolist() for _ in range(4)]
    again = ChunkSampler(data, batch_size=3, block_size=64, pad_id=0, seed=1)
    again.load_state_dict(state)
    assert [again.next_batch().input_ids.tolist() for _ in range(4)] == ahead


def test_validation_batches_are_the_same_first_chunks_every_time():
    data = chunks_of(3, 4, 5, 6, 7)
    batches = fixed_batches(data, batch_size=2, block_size=64, pad_id=0, max_batches=2)
    assert [b.input_ids.shape[0] for b in batches] == [2, 2]
    assert batches[0].input_ids[0, 0] == data[0][0]
    assert len(fixed_batches(data, batch_size=2, block_size=64, pad_id=0)) == 3


def test_the_learning_rate_warms_up_then_decays_to_its_floor():
    config = TrainConfig(data="d", max_steps=100, warmup_steps=10, min_lr_ratio=0.1)
    factors = [lr_factor(step, config) for step in range(100)]
    assert factors[:10] == sorted(factors[:10]) and factors[0] < 0.1
    assert factors[10] == pytest.approx(1.0)
    assert factors[10:] == sorted(factors[10:], reverse=True)
    assert lr_factor(100, config) == pytest.approx(0.1)


def test_bad_settings_are_refused_with_their_name():
    with pytest.raises(TrainError, match="method"):
        TrainConfig(data="d", method="qlora").validate()
    with pytest.raises(TrainError, match="max_steps"):
        TrainConfig(data="d", max_steps=0).validate()


class FakeTunable:
    """Writes one file, or fails half-way like a full disk would."""

    def __init__(self, text, fail=False):
        self.text, self.fail = text, fail

    def save(self, directory):
        directory.mkdir(parents=True)
        (directory / "weights.txt").write_text(self.text)
        if self.fail:
            raise OSError("No space left on device")


def state(step):
    return TrainerState(step=step, tokens=10 * step, optimizer={}, scheduler={}, sampler={"epoch": 0, "cursor": step},
                        rng={}, train_losses=[(step, 1.0)])


def test_a_checkpoint_is_replaced_whole_or_not_at_all(tmp_path):
    config = TrainConfig(data="d", out=str(tmp_path))
    save_checkpoint(tmp_path, config, FakeTunable("step 1"), state(1))
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(tmp_path, config, FakeTunable("step 2", fail=True), state(2))
    assert load_checkpoint(tmp_path / CHECKPOINT)[1].step == 1
    assert (tmp_path / CHECKPOINT / "model" / "weights.txt").read_text() == "step 1"
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT]  # no partial directory left

    save_checkpoint(tmp_path, config, FakeTunable("step 2"), state(2))
    loaded_config, loaded = load_checkpoint(tmp_path / CHECKPOINT)
    assert loaded.step == 2 and loaded.sampler == {"epoch": 0, "cursor": 2} and loaded_config == config


def test_a_checkpoint_moved_aside_by_a_crash_is_still_found(tmp_path):
    save_checkpoint(tmp_path, TrainConfig(data="d"), FakeTunable("step 1"), state(1))
    aside = tmp_path / ".checkpoint.old-1234"
    aside.mkdir()
    os.replace(tmp_path / CHECKPOINT, aside / CHECKPOINT)  # the crash came between the two renames
    assert find_checkpoint(tmp_path) == aside / CHECKPOINT


def test_the_first_ctrl_c_asks_to_stop_the_second_quits():
    said = []
    with StopRequest(said.append) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested and not stop.aborted and said
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        assert stop.aborted
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_smoothed_loss_starts_at_the_first_value():
    assert smooth([4.0, 4.0, 4.0]) == pytest.approx([4.0, 4.0, 4.0])
    assert smooth([10.0, 0.0]) == pytest.approx([10.0, 0.9 / 0.19])  # bias-corrected, not dragged to 0


def test_samples_are_cleaned_songs_and_do_not_touch_the_training_rng(tiny_lyrics_gpt2_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from billion_songs.core.tuning.samples import format_samples, sample_songs

    model = AutoModelForCausalLM.from_pretrained(tiny_lyrics_gpt2_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_lyrics_gpt2_dir)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    songs = sample_songs(model, tokenizer, count=2, max_new_tokens=8, seed=1, device=torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), before)
    assert songs == sample_songs(model, tokenizer, count=2, max_new_tokens=8, seed=1, device=torch.device("cpu"))
    assert len(songs) == 2 and all(not song.complete for song in songs)  # 8 random tokens: no end marker
    text = format_samples(songs, step=7)
    assert text.startswith("--- samples at step 7 ---") and "[cut at the token limit]" in text

