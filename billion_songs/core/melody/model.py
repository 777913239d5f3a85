"""The melody model: a Markov chain over scale degrees conditioned on the position in the
phrase, learned from folk tunes (scripts/build_melody_model.py writes data/tables.npz).

A degree counts diatonic steps from the tonic: 0 the tonic, 2 the third, 4 the fifth, 7
the tonic an octave up, -3 the fifth below. A note is drawn from

    P(d | two previous degrees, bucket)  smoothed towards  P(d | previous degree, bucket)

where bucket is the note's place in its phrase (first, middle, penultimate, last), so
phrases start, run and cadence the way the corpus' phrases do. The composer narrows each
draw to the song's range, to leaps of at most an octave, and a phrase's last note to
degrees 1, 3 or 5 of the scale.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np

DEG_LO, DEG_HI = -7, 14  # degrees the tables know: the tonic an octave below to two octaves up
BUCKETS = ("first", "middle", "penultimate", "last")
FIRST, MIDDLE, PENULTIMATE, LAST = range(4)
METERS = ("4/4", "3/4", "6/8")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)  # natural minor; the melodic minor's raised 6th and 7th count as in key
_MINOR_RAISED = {9: 5, 11: 6}
BACKOFF = 4.0  # weight of the first-order distribution in the second-order one (pseudo-counts)
# A draw that follows a tune (a later verse with other words) weighs each degree by its
# distance from the tune's degree at that moment: the tune stays recognisable, the
# intervals stay the corpus' own.
FOLLOW_KERNEL = (1.0, 0.3, 0.08, 0.02, 0.005)
# Weight of a move by its size in degrees (0: a repeated note, 1: a step...). The song's
# constraints (a range, phrase ends on 1/3/5, lines redrawn rather than copy a corpus
# run) cost some stepwise motion; this gives it back, calibrated so that composed songs'
# intervals match the held-out tunes' (`billion-songs eval --melody`).
INTERVAL_BIAS = (1.0, 1.6, 0.9)  # the last weight holds for larger moves


def scale_of(mode: str) -> tuple[int, ...]:
    return MAJOR if mode == "major" else MINOR


def degree_of(semitones: int, mode: str) -> tuple[int, bool]:
    """(degree, in key) of a pitch `semitones` above the tonic; a note outside the scale
    takes the degree below it."""
    octave, pc = divmod(semitones, 12)
    scale = scale_of(mode)
    if pc in scale:
        return 7 * octave + scale.index(pc), True
    if mode == "minor" and pc in _MINOR_RAISED:
        return 7 * octave + _MINOR_RAISED[pc], True
    step = max(i for i, s in enumerate(scale) if s < pc)
    return 7 * octave + step, False


def semitones_of(degree: int, mode: str) -> int:
    octave, step = divmod(degree, 7)
    return 12 * octave + scale_of(mode)[step]


class MelodyModel:
    """The learned tables, smoothed and turned into plain lists once (a draw is then a
    short loop in Python: no numpy call per note)."""

    def __init__(self, first: np.ndarray, second: np.ndarray, rhythm: dict[str, np.ndarray]):
        first = first.astype(np.float64) + 0.05
        first /= first.sum(axis=-1, keepdims=True)
        smoothed = second.astype(np.float64) + BACKOFF * first[:, None, :, :]
        degrees = np.arange(DEG_LO, DEG_HI + 1)
        moves = np.minimum(np.abs(degrees[None, :] - degrees[:, None]), len(INTERVAL_BIAS) - 1)
        smoothed *= np.array(INTERVAL_BIAS)[moves][None, None, :, :]  # [prev1, next]
        self._weights = smoothed.tolist()  # [bucket][prev2][prev1][next]
        # log P(duration in eighths | onset in the bar) per meter, add-one smoothed.
        self.rhythm = {}
        for meter, counts in rhythm.items():
            table = counts.astype(np.float64) + 1.0
            table[:, 0] = 0.0
            self.rhythm[meter] = np.log(table / table.sum(axis=1, keepdims=True) + 1e-12).tolist()

    def draw(self, bucket: int, prev2: int, prev1: int, u: float, allowed, target: int | None = None) -> int:
        """The degree whose cumulative weight first passes u, among `allowed` degrees
        (weighted by FOLLOW_KERNEL around `target` when one is given)."""
        row = self._weights[bucket][prev2 - DEG_LO][prev1 - DEG_LO]
        if target is None:
            choices = [(d, row[d - DEG_LO]) for d in allowed]
        else:
            far = len(FOLLOW_KERNEL) - 1
            choices = [(d, row[d - DEG_LO] * FOLLOW_KERNEL[min(abs(d - target), far)]) for d in allowed]
        total = sum(w for _, w in choices)
        target = u * total
        for d, w in choices:
            target -= w
            if target <= 0:
                return d
        return choices[-1][0]


@cache
def load_model() -> MelodyModel:
    data = resources.files("billion_songs.core.melody") / "data" / "tables.npz"
    with resources.as_file(data) as path, np.load(path) as tables:
        rhythm = {m: tables[f"rhythm_{m.replace('/', '_')}"] for m in METERS}
        return MelodyModel(tables["first"], tables["second"], rhythm)
