"""A counter-based random number generator: randomness as a pure function of
(song id, attempt, step, token id).

Nothing here has state. The same key and counter give the same number in any process, on
any thread count and in any batch, which is what makes a song a pure function of its id
(see "Determinism" in the README's design of the lyrics engine). The mixing function is
SplitMix64's finalizer, applied in a keyed chain; it passes BigCrush as a hash of a counter, which is
more than enough to draw sampling noise.
"""

from __future__ import annotations

import numpy as np

# Constants are 1-element arrays: numpy wraps uint64 array arithmetic silently, while
# scalar arithmetic warns on overflow, and wrapping is exactly what a hash wants.
_GOLDEN = np.array([0x9E3779B97F4A7C15], dtype=np.uint64)  # 2**64 / golden ratio
_M1 = np.array([0xBF58476D1CE4E5B9], dtype=np.uint64)
_M2 = np.array([0x94D049BB133111EB], dtype=np.uint64)


def _u64(value: int) -> np.ndarray:
    return np.array([value], dtype=np.uint64)


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer on a uint64 array (wrapping arithmetic, no warnings)."""
    z = np.asarray(z, dtype=np.uint64)
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def stream_keys(song_ids: np.ndarray, attempt: int) -> np.ndarray:
    """One 64-bit key per (song id, attempt): the root of that attempt's random stream."""
    ids = np.asarray(song_ids, dtype=np.uint64)
    attempt_key = mix64(_u64(attempt) * _GOLDEN + _GOLDEN)
    return mix64(mix64(ids) ^ attempt_key)


def uniforms(keys: np.ndarray, step: int, counters: np.ndarray) -> np.ndarray:
    """Uniform floats in the open interval (0, 1), shape of `counters` ([rows, n]).

    keys: [rows] from stream_keys; step: the decoding step; counters: [rows, n] uint64
    (the candidate token ids), so each (key, step, token) has its own number.
    """
    keys = np.asarray(keys, dtype=np.uint64)[:, None]
    step_key = mix64(keys + _u64(step + 1) * _GOLDEN)
    bits = mix64(step_key ^ mix64(np.asarray(counters, dtype=np.uint64) * _GOLDEN + _M2))
    # 53 random bits -> a double strictly inside (0, 1), so log(u) and log(-log(u)) are finite.
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def gumbel(keys: np.ndarray, step: int, counters: np.ndarray) -> np.ndarray:
    """Standard Gumbel noise: argmax(logits + gumbel) samples from softmax(logits)."""
    return -np.log(-np.log(uniforms(keys, step, counters)))


def derive(song_id: int, purpose: str, index: int = 0) -> int:
    """A 64-bit number derived from a song id for a named purpose (at most 8 significant
    characters: "genre", "scheme"...) and an optional index (the section or line it is for)."""
    salt = int.from_bytes(purpose.encode()[:8].ljust(8, b"\0"), "little")
    value = mix64(mix64(_u64(song_id)) ^ mix64(_u64(salt) + _GOLDEN))
    if index:
        value = mix64(value ^ mix64(_u64(index) * _GOLDEN + _M1))
    return int(value[0])


def line_keys(song_id: int, attempt: int, slot: int, count: int) -> np.ndarray:
    """Keys of the `count` candidate lines decoded for one line slot of one attempt of a
    song: each candidate has its own random stream, so a candidate's tokens depend only on
    (id, attempt, slot, candidate), never on how many songs share its batch."""
    root = stream_keys(np.array([song_id], dtype=np.uint64), attempt)
    slot_key = mix64(root ^ mix64(_u64(slot + 1) * _M2))
    candidates = np.arange(count, dtype=np.uint64)
    return mix64(slot_key ^ mix64(candidates * _GOLDEN + _M1))
