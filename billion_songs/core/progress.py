"""Progress for people: one line on stderr (stdout carries songs and JSON)."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    print(f"[billion-songs] {message}", file=sys.stderr, flush=True)
