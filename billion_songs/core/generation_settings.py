"""How a model writes songs: the sampling and decoding settings stored in a model's manifest
(`billion_songs_model.json`), read by `sampling` and the two decoders.

A plain frozen dataclass with no dependencies, so the engine (which stores it), sampling
and the songwriting decoder can all import it from below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 256  # longest song in tokens; a song cut here ends at its last full line
    temperature: float = 0.7  # <1 sharpens the distribution: fewer odd words, more clichés
    top_k: int = 40  # sample only among the k likeliest tokens
    top_p: float = 0.9  # ...and only the smallest set of them holding this much probability
    repetition_penalty: float = 1.15  # CTRL-style penalty on recently written tokens (1 = off)
    repetition_window: int = 24  # how many recent tokens the penalty looks at: short, so choruses may repeat
    max_attempts: int = 3  # generations per song before it is stored as failed
    # "song": the songwriting decoder (songwriting/decoder.py) writes line by line under the
    # song plan; "free": the model writes the whole song on its own (older tuned adapters).
    decoder: str = "song"
    candidates: int = 6  # lines decoded side by side for each line of a song; the best is kept
    # The songwriting decoder samples its candidates hotter than a free-form song: the best
    # of six is kept, which pulls back toward the likely, so at 0.7 songs leaned on the same
    # stock phrases (distinct-2 measured in docs/quality.md).
    line_temperature: float = 0.9
    line_top_p: float = 0.95
    rhyme_bias: float = 4.0  # logit bonus for words that rhyme where the scheme asks for a rhyme
    song_tokens: int = 320  # the longest song the songwriting decoder may write, its prompt included
