"""Sample songs from the model being trained, in the lyrics format, to watch it learn.

Sampling runs on the float training model (not the int8 engine) with its own seed inside a
forked RNG, so printing samples never changes the training run's random stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from billion_songs.core.lyrics_format import END_OF_TEXT, START_OF_TITLE
from billion_songs.core.postprocess import clean_song

TEMPERATURE = 0.8  # a little sharper than the raw distribution: readable, still varied
TOP_K = 40  # sample among the 40 likeliest tokens


@dataclass(frozen=True)
class SampleSong:
    title: str
    lyrics: str
    complete: bool  # the model wrote <|endoftext|> before the token limit


@torch.no_grad()
def sample_songs(model, tokenizer, *, count: int, max_new_tokens: int, seed: int,
                 device: torch.device) -> list[SampleSong]:
    start = tokenizer.convert_tokens_to_ids(START_OF_TITLE)
    end = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    prompt = torch.full((count, 1), start, dtype=torch.int64, device=device)  # (N, 1)
    was_training = model.training
    model.eval()
    cuda = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            out = model.generate(
                input_ids=prompt,
                attention_mask=torch.ones_like(prompt),
                do_sample=True,
                temperature=TEMPERATURE,
                top_k=TOP_K,
                max_new_tokens=max_new_tokens,
                eos_token_id=end,
                pad_token_id=end,
            )  # (N, 1 + new)
    finally:
        model.train(was_training)
    songs = []
    for row in out[:, 1:].tolist():
        complete = end in row
        ids = row[: row.index(end)] if complete else row
        title, lyrics = clean_song(tokenizer.decode(ids, skip_special_tokens=False), complete=complete)
        songs.append(SampleSong(title, lyrics, complete))
    return songs


def format_samples(songs: list[SampleSong], step: int) -> str:
    lines = [f"--- samples at step {step} ---"]
    for song in songs:
        lines.append(f"# {song.title or '(no title)'}" + ("" if song.complete else "  [cut at the token limit]"))
        lines.extend(f"  {line}" for line in (song.lyrics or "(no lyrics)").split("\n"))
    return "\n".join(lines)
