"""The golden file: hashes of the embedded model's logits and songs for a fixed set of ids.

    python -m tests.core.golden.golden --write    # only in the change that bumps model_version

A mismatch on a new CPU is a determinism bug (the contract says every x86 machine writes
the same songs), never a fixture to regenerate.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

from billion_songs.core.engine.attention import KVCache

FIXTURE = Path(__file__).with_name("embedded_golden.json")
IDS = [0, 1, 41, 2**63, 2**64 - 1]
STEPS = 4  # greedy decoding steps whose logits are hashed, after the prompt's


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def logits_hashes(generator, song_id: int) -> list[str]:
    """sha256 of the float32 bytes of the prompt's last logits and of STEPS greedy steps."""
    model, prefix = generator.loaded.model, generator._prefix
    prompt = generator.prompt(song_id)
    length = STEPS + len(prompt) + (prefix.length if prefix is not None else 0)
    cache = model.new_cache(1, length) if prefix is None else KVCache.from_prefix(prefix, 1, length)
    hashes = []
    logits = model.forward(torch.tensor([prompt], dtype=torch.int64), cache)
    for _ in range(STEPS):
        hashes.append(_sha(logits.contiguous().numpy().tobytes()))
        logits = model.forward(logits.argmax(dim=-1, keepdim=True), cache)
    hashes.append(_sha(logits.contiguous().numpy().tobytes()))
    return hashes


def compute() -> dict:
    from billion_songs.core.loader import load_generator
    from billion_songs.core.model_names import EMBEDDED

    generator = load_generator(EMBEDDED)
    songs = generator.generate(IDS)
    return {
        "model_version": generator.model_version,
        "logits": {str(i): logits_hashes(generator, i) for i in IDS},
        "songs": {str(s.id): _sha(json.dumps(s.as_dict(), sort_keys=True).encode()) for s in songs},
    }


if __name__ == "__main__":
    result = compute()
    if "--write" in sys.argv:
        FIXTURE.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(json.dumps(result, indent=1, sort_keys=True))
