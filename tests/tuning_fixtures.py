"""Fixtures for the training, export and eval tests: a generated lyrics CSV, its prepared
dataset (GPT-2 BPE, the tiny GPT-2's tokenizer) and small training settings.

Import the fixtures you use in the test module (`from tests.tuning_fixtures import ...`).
"""

from __future__ import annotations

import csv
import random

import pytest
import torch

from billion_songs.core.tuning.prepare import PrepareConfig, prepare_dataset
from billion_songs.core.tuning.train_config import TrainConfig

RHYMES = (("night", "light"), ("rain", "again"), ("heart", "apart"), ("road", "load"), ("fire", "higher"))
OPENERS = ("I walk", "we ride", "you sing", "they dance", "she waits")


def write_lyrics_csv(path, songs: int = 40, seed: int = 0):
    """A CSV of small rhyming songs in a narrow vocabulary: a tiny model learns it in steps."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["artist", "title", "lyrics"])
        for number in range(songs):
            lines = []
            for _ in range(2):
                a, b = rng.choice(RHYMES)
                lines += [f"{rng.choice(OPENERS)} through the {a}", f"{rng.choice(OPENERS)} into the {b}", ""]
            writer.writerow(["Tiny Band", f"Song {number} of the {rng.choice(RHYMES)[0]}", "\n".join(lines).strip()])
    return path


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory):
    """A prepared dataset: 40 songs, GPT-2 tokens, chunks of at most 64 tokens."""
    root = tmp_path_factory.mktemp("prepared-lyrics")
    csv_path = write_lyrics_csv(root / "songs.csv")
    prepare_dataset(csv_path, root / "data", PrepareConfig(block_size=64, val_fraction=0.2, seed=1))
    return root / "data"


@pytest.fixture(autouse=False)
def one_thread():
    """Tiny models run fastest on one thread (and don't fight other work for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_config(data, out, base, **overrides) -> TrainConfig:
    """A few fast steps of a tiny GPT-2: a large learning rate so a few steps show."""
    settings = {"max_steps": 6, "batch_size": 2, "learning_rate": 3e-2, "warmup_steps": 1, "lora_r": 4,
                "lora_alpha": 8, "eval_interval": 3, "eval_batches": 2, "sample_interval": 0,
                "checkpoint_interval": 100, "sample_tokens": 12}
    return TrainConfig(data=str(data), out=str(out), base=str(base), **{**settings, **overrides})
