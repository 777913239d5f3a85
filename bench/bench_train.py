"""Training throughput: this project's loop vs the Hugging Face Trainer, side by side.

    python bench/bench_train.py [--model tiny|embedded|DIR] [--steps 30] [--batch-size 4]
                                [--block-size 128] [--method lora|full] [--threads N]

Same model (the same seeded LoRA wrap from billion_songs.core.tuning.tunable), same data
(a generated lyrics CSV prepared with the model's tokenizer), same batches (this loop's
padded chunks, in a fresh shuffled order), same optimizer (AdamW, the same LR, betas,
weight decay, warm-up + cosine, gradient clipping), same number of steps. Tokens/s
counts real (unpadded) tokens over the time between the first and the last step.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billion_songs.core.lyrics_format import END_OF_TEXT
from billion_songs.core.tuning.batches import collate
from billion_songs.core.tuning.checkpoint import load_checkpoint
from billion_songs.core.tuning.dataset import load_prepared
from billion_songs.core.tuning.prepare import PrepareConfig, prepare_dataset
from billion_songs.core.tuning.train import train
from billion_songs.core.tuning.train_config import TrainConfig
from billion_songs.core.tuning.tunable import build_tunable

WORDS = ("night", "light", "rain", "again", "heart", "apart", "road", "fire", "higher", "river", "moon", "dream",
         "home", "alone", "summer", "winter", "morning", "evening", "city", "country", "dance", "sing", "cry")


def write_songs(path: Path, songs: int = 400) -> None:
    rng = random.Random(0)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "lyrics"])
        for n in range(songs):
            lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 8))) for _ in range(rng.randint(8, 16))]
            writer.writerow([f"{rng.choice(WORDS).title()} {n}", "\n".join(lines)])


def base_and_tokenizer(spec: str, root: Path) -> tuple[str, str]:
    """(base spec, tokenizer spec for prepare)."""
    if spec == "tiny":
        from transformers import GPT2Config, GPT2LMHeadModel

        from billion_songs.core.tuning.tokenizing import gpt2_tokenizer

        tokenizer = gpt2_tokenizer()
        torch.manual_seed(0)
        config = GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=128, n_layer=4, n_head=4)
        GPT2LMHeadModel(config).save_pretrained(root / "tiny")
        tokenizer.save_pretrained(root / "tiny")
        return str(root / "tiny"), "gpt2"
    if spec == "embedded":
        from billion_songs.core.loader import resolve_model_dir

        return "embedded", str(resolve_model_dir("embedded"))  # the engine dir holds its tokenizer.json
    return spec, spec


class ChunkDataset(torch.utils.data.Dataset):
    def __init__(self, chunks):
        self.chunks = chunks

    def __len__(self):
        return len(self.chunks)

    def __getitem__(self, index):
        return {"chunk": self.chunks[index]}


def run_trainer(config: TrainConfig, tokens_seen: list) -> tuple[float, float]:
    """The Hugging Face Trainer on the same model, data and settings -> (seconds, loss)."""
    import transformers
    from transformers import AutoTokenizer, PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    transformers.logging.set_verbosity_error()
    data = load_prepared(config.data)
    tokenizer = AutoTokenizer.from_pretrained(str(data.tokenizer_dir))
    torch.manual_seed(config.seed)
    tunable = build_tunable(config, tokenizer)
    block = min(config.block_size or int(data.meta["block_size"]), tunable.max_positions)
    pad = tokenizer.convert_tokens_to_ids(END_OF_TEXT)

    def collator(items):
        batch = collate([item["chunk"] for item in items], block, pad)
        tokens_seen.append(batch.tokens)
        return {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask, "labels": batch.labels}

    times: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            times.setdefault("first", time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            times["last"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, max_steps=config.max_steps, per_device_train_batch_size=config.batch_size,
            gradient_accumulation_steps=config.grad_accum, learning_rate=config.lr, weight_decay=config.weight_decay,
            adam_beta1=0.9, adam_beta2=0.95, max_grad_norm=config.grad_clip, warmup_steps=config.warmup_steps,
            lr_scheduler_type="cosine", logging_steps=10**9, save_strategy="no", eval_strategy="no",
            report_to=[], remove_unused_columns=False, dataloader_num_workers=0, seed=config.seed,
            disable_tqdm=True, use_cpu=not torch.cuda.is_available(),
        )
        trainer = Trainer(model=tunable.model, args=args, train_dataset=ChunkDataset(data.train),
                          data_collator=collator, callbacks=[Clock()])
        trainer.remove_callback(PrinterCallback)  # its end-of-run dict would print between our lines
        result = trainer.train()
    return times["last"] - times["first"], result.training_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help='"tiny" (GPT-2 BPE, 4x128), "embedded" or a HF dir')
    parser.add_argument("--method", default="lora", choices=("lora", "full"))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads [default: torch's]")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base, tokenizer = base_and_tokenizer(args.model, root)
        write_songs(root / "songs.csv")
        prepare_dataset(root / "songs.csv", root / "data", PrepareConfig(tokenizer=tokenizer, block_size=args.block_size))
        config = TrainConfig(data=str(root / "data"), out=str(root / "run"), base=base, method=args.method,
                             max_steps=args.steps, batch_size=args.batch_size, warmup_steps=3, eval_interval=10**9,
                             sample_interval=0, checkpoint_interval=10**9)

        # The HF Trainer has no notion of this loop's validation/sampling/checkpoints:
        # both runs do none of them during the timed steps (ours evaluates once at the end,
        # outside the timed steps).
        ours = train(config, progress=False, say=lambda m: None)
        state = load_checkpoint(ours.checkpoint)[1]
        ours_loss = sum(loss for _, loss in state.train_losses) / len(state.train_losses)
        ours_seconds = state.tokens / ours.tokens_per_s
        trainer_tokens: list[int] = []
        trainer_seconds, trainer_loss = run_trainer(config, trainer_tokens)
        # the first batch is collated before the first step begins: it belongs to the run
        trainer_rate = sum(trainer_tokens[: args.steps * config.grad_accum]) / trainer_seconds

    device = "cuda" if torch.cuda.is_available() else f"cpu, {torch.get_num_threads()} threads"
    print(f"model {args.model} ({args.method}), {args.steps} steps of {args.batch_size} x <= {args.block_size} "
          f"tokens, {device}")
    rows = [("billion-songs train loop", ours.tokens_per_s, ours_seconds, ours_loss),
            ("Hugging Face Trainer", trainer_rate, trainer_seconds, trainer_loss)]
    print(f"| {'loop':<26} | {'tokens/s':>9} | {'seconds':>8} | {'mean loss':>9} |")
    print(f"|{'-' * 28}|{'-' * 11}|{'-' * 10}|{'-' * 11}|")
    for name, rate, seconds, loss in rows:
        print(f"| {name:<26} | {rate:>9,.0f} | {seconds:>8.1f} | {loss:>9.4f} |")
    print(f"ratio (ours / Trainer): {ours.tokens_per_s / trainer_rate:.2f}x")


if __name__ == "__main__":
    main()
