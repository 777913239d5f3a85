"""The rhythm of one sung line: where each syllable starts and how long it lasts.

Times are in eighth notes from the start of the line's phrase. A phrase is whole bars:
the syllables before the *anchor* fill `bars` bars, the anchor falls on the downbeat of
the last bar, and the line ends there on a long note followed by a rest. The anchor is the
last syllable, or the one before it when the line ends on a stressed-unstressed word
("RI-ver": a feminine ending, the stress on the downbeat).

The placement before the anchor is the best path of a small dynamic program: each
syllable lasts 1 to 4 eighths (3 in 3/4 and 6/8: never longer than the last note), never
across a bar line; a path scores the corpus' log
P(duration | onset in the bar) (learned, data/tables.npz) plus a bonus for a stressed
syllable on a strong beat and a penalty for an unstressed one there, minus a little for
each eighth of rest before the first syllable (a short pickup is fine, a long wait not).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil

from billion_songs.core.melody.model import load_model
from billion_songs.core.melody.syllables import STRESSED, UNKNOWN, UNSTRESSED


@dataclass(frozen=True)
class Meter:
    name: str
    bar: int  # eighths in a bar
    strength: tuple[int, ...]  # metrical weight of each eighth of the bar: 3 downbeat ... 0 offbeat
    final: int  # eighths the line's last note lasts; the bar's rest follows it
    feminine: tuple[int, int]  # eighths of the anchor and the last syllable in a feminine ending
    longest: int  # the longest note before the anchor, in eighths (shorter than the last note)
    numerator: int
    denominator: int


METERS = {
    "4/4": Meter("4/4", 8, (3, 0, 1, 0, 2, 0, 1, 0), 6, (2, 4), 4, 4, 4),
    "3/4": Meter("3/4", 6, (3, 0, 1, 0, 1, 0), 4, (2, 3), 3, 3, 4),
    "6/8": Meter("6/8", 6, (3, 0, 0, 2, 0, 0), 4, (2, 3), 3, 6, 8),
}
STRESS_WEIGHT = 1.2  # per unit of metrical strength, for a stressed syllable
WEAK_ON_STRONG = 1.5  # penalty for an unstressed syllable on a beat of strength >= 2
LEAD_REST = 0.4  # per eighth of rest before the first syllable
SLOTS_PER_SYLLABLE = 1.3  # eighths a syllable takes on average, to size the phrase


def anchor_of(stresses: tuple[int, ...]) -> int:
    """Index of the syllable on the last downbeat."""
    n = len(stresses)
    if n >= 2 and stresses[-1] == UNSTRESSED and stresses[-2] == STRESSED:
        return n - 2
    return n - 1


def bars_for(stresses: tuple[int, ...], meter: Meter) -> int:
    """Bars the syllables before the anchor need (0 for a one-syllable line)."""
    before = anchor_of(stresses)
    return max(1, ceil(before * SLOTS_PER_SYLLABLE / meter.bar)) if before else 0


def _stress_score(stress: int, strength: int) -> float:
    if stress == STRESSED:
        return STRESS_WEIGHT * strength
    if stress == UNKNOWN:
        return 0.3 * strength
    return -WEAK_ON_STRONG if strength >= 2 else 0.0


@lru_cache(maxsize=4096)
def place(stresses: tuple[int, ...], meter_name: str, bars: int) -> tuple[tuple[int, int], ...]:
    """(onset, duration) in eighths of each syllable of a line sung over `bars` bars plus
    the anchor's bar. `bars` may exceed bars_for (verses share their phrase lengths)."""
    meter = METERS[meter_name]
    log_duration = load_model().rhythm[meter_name]
    anchor = anchor_of(stresses)
    end = bars * meter.bar  # the anchor's downbeat
    # best[i][t]: the best score of syllables i..anchor-1 with syllable i starting at t.
    neg = float("-inf")
    best = [[neg] * (end + 1) for _ in range(anchor + 1)]
    step = [[0] * (end + 1) for _ in range(anchor + 1)]
    best[anchor][end] = 0.0
    for i in range(anchor - 1, -1, -1):
        row, nxt = best[i], best[i + 1]
        for t in range(end - 1, -1, -1):
            pos = t % meter.bar
            base = _stress_score(stresses[i], meter.strength[pos])
            for d in range(1, meter.longest + 1):
                if pos + d > meter.bar or t + d > end or nxt[t + d] == neg:
                    continue
                score = base + log_duration[pos][d] + nxt[t + d]
                if score > row[t]:
                    row[t], step[i][t] = score, d
    placed: list[tuple[int, int]] = []
    if anchor:
        start = max(range(end), key=lambda t: (best[0][t] - LEAD_REST * t, -t))
        if best[0][start] == neg:
            raise ValueError(f"cannot fit {anchor} syllables in {bars} bars of {meter_name}")
        t = start
        for i in range(anchor):
            placed.append((t, step[i][t]))
            t += step[i][t]
    # The anchor and what follows it: in a feminine ending the anchor takes a quarter and
    # the last syllable the long note.
    if anchor == len(stresses) - 1:
        placed.append((end, meter.final))
    else:
        first, last = meter.feminine
        placed.append((end, first))
        placed.append((end + first, last))
    return tuple(placed)
