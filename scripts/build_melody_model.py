"""Build the melody model's tables from public-domain folk tunes (the Essen folk song
collection in music21's corpus).

    python scripts/build_melody_model.py            # writes billion_songs/core/melody/data/

Needs the `melody-build` extra (`pip install -e '.[melody-build]'`: music21). No tune is
copied into the repository: the script writes only counts and statistics derived from
the tunes:

- tables.npz: scale-degree transitions by position in the phrase (first note, middle,
  penultimate, last; first and second order), and note durations by position in the bar
  for 4/4, 3/4 and 6/8 (the rhythm the composer prefers);
- copy_index.npz: 32-bit hashes of every run of 8 intervals (9 notes) in any tune, so
  that the eval (and the composer) can tell when a tune copies a corpus tune;
- corpus_stats.json: the eval's figures over the held-out tunes (every tune whose
  crc32(file, number) % 10 == 0), the yardstick `billion-songs eval --melody` prints
  next to its own.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from billion_songs.core.evaluation.melody import figures_of_tunes
from billion_songs.core.melody.copycheck import RUN, interval_hashes
from billion_songs.core.melody.model import BUCKETS, DEG_HI, DEG_LO, METERS, degree_of

OUT = Path(__file__).resolve().parents[1] / "billion_songs" / "core" / "melody" / "data"
HELD_OUT = 10  # one tune in ten is held out for the eval's corpus figures
# Meters of the corpus mapped onto the composer's three (bar length in eighths): a 2/4
# bar is half a 4/4 bar, a 3/8 bar half a 6/8 bar.
METER_OF = {"4/4": ("4/4", 8), "2/2": ("4/4", 8), "2/4": ("4/4", 4), "3/4": ("3/4", 6), "6/8": ("6/8", 6),
            "3/8": ("6/8", 3)}


def tunes_in(text: str):
    """(header lines, body lines) of each tune in an ABC file."""
    for block in re.split(r"\n\s*\n", text):
        lines = [line.rstrip() for line in block.strip().splitlines()]
        if not lines or not lines[0].startswith("X:"):
            continue
        header = [line for line in lines if re.match(r"^[A-Za-z]:", line)]
        body = [line for line in lines if line and not re.match(r"^[A-Za-z]:", line) and not line.startswith("%")]
        yield header, body


def notes_of(handler_cls, header: list[str], line: str, carried: dict):
    """[(midi, quarterLength, bar_position_or_None)] of one ABC body line through
    music21's ABC tokenizer; rests as midi None. Accidentals carry to the end of the bar
    (ABC's rule; the tokenizer alone does not apply it)."""
    handler = handler_cls()
    handler.process("\n".join(header) + "\n" + line)
    out = []
    tie = False
    for token in handler.tokens:
        kind = type(token).__name__
        if kind == "ABCBar":
            carried.clear()
            out.append(("|", 0.0))
        elif kind == "ABCTie":
            tie = True
        elif kind == "ABCNote":
            length = float(token.quarterLength)
            if token.isRest:
                out.append((None, length))
                continue
            name = token.pitchName
            letter, rest = name[0], name[1:]
            accidental = "".join(ch for ch in rest if ch in "#-n")
            octave = rest.lstrip("#-n~")
            if token.accidentalDisplayStatus:
                carried[letter + octave] = accidental
            elif letter + octave in carried:
                accidental = carried[letter + octave]
            midi = pitch_midi(letter, accidental, octave)
            if tie and out and out[-1][0] == midi:
                out[-1] = (midi, out[-1][1] + length)
            else:
                out.append((midi, length))
            tie = False
    return out


def pitch_midi(letter: str, accidental: str, octave: str) -> int:
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[letter]
    shift = accidental.count("#") - accidental.count("-")
    return 12 * (int(octave) + 1) + base + shift


def read_corpus(limit: int | None):
    from music21 import corpus  # the build-only dependency (extra melody-build)
    from music21.abcFormat import ABCHandler

    paths = sorted(corpus.getComposer("essenFolksong"), key=lambda p: p.name)
    count = 0
    for path in paths:
        if path.name.startswith("test"):
            continue  # music21's own test files, variants of tunes found elsewhere
        text = path.read_text(encoding="latin-1")
        for header, body in tunes_in(text):
            meter = next((h.split(":", 1)[1].strip() for h in header if h.startswith("M:")), "none")
            number = next((h.split(":", 1)[1].strip() for h in header if h.startswith("X:")), "0")
            carried: dict = {}
            phrases, bars = [], []
            for line in body:
                events = notes_of(ABCHandler, header, line, carried)
                phrases.append([e for e in events if e[0] not in (None, "|")])
                bars.extend(events)
            phrases = [p for p in phrases if p]
            if len(phrases) < 2:
                continue
            held_out = zlib.crc32(f"{path.name}:{number}".encode()) % HELD_OUT == 0
            yield {"meter": meter, "phrases": phrases, "events": bars, "held_out": held_out}
            count += 1
            if limit and count >= limit:
                return


def tonality(phrases) -> tuple[int, str]:
    """The tune's final (tonic, as folk tunes end) and mode (major if its major third
    sounds longer than its minor third)."""
    final = phrases[-1][-1][0]
    weight = Counter()
    for phrase in phrases:
        for midi, length in phrase:
            weight[(midi - final) % 12] += length
    return final, ("major" if weight[4] >= weight[3] else "minor")


def rhythm_counts(tune, counts) -> None:
    """Durations (eighths) by onset position in complete bars."""
    mapped = METER_OF.get(tune["meter"])
    if mapped is None:
        return
    meter, bar = mapped
    full = {"4/4": 8, "3/4": 6, "6/8": 6}[meter]
    measure: list = []
    for midi, length in tune["events"] + [("|", 0.0)]:
        if midi == "|":
            total = sum(length for _, length in measure)
            if abs(total * 2 - bar) < 1e-6:
                pos = 0.0
                for m, length in measure:
                    eighths = length * 2
                    if m is not None and eighths == int(eighths) and 1 <= eighths <= 8 and pos == int(pos):
                        for offset in range(0, full, bar):
                            counts[meter][int(pos) + offset, int(eighths)] += 1
                    pos += eighths
            measure = []
        else:
            measure.append((midi, length))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--limit", type=int, default=None, help="Read only this many tunes (a quick test).")
    args = parser.parse_args(argv)

    size = DEG_HI - DEG_LO + 1
    first = np.zeros((len(BUCKETS), size, size), dtype=np.int64)
    second = np.zeros((len(BUCKETS), size, size, size), dtype=np.int64)
    rhythm = {m: np.zeros((8, 9), dtype=np.int64) for m in METERS}
    held_out_tunes, hashes = [], set()
    tunes = 0
    for tune in read_corpus(args.limit):
        tunes += 1
        tonic, mode = tonality(tune["phrases"])
        pitches = [midi for phrase in tune["phrases"] for midi, _ in phrase]
        hashes.update(interval_hashes(pitches))
        if tune["held_out"]:
            held_out_tunes.append({"tonic": tonic, "mode": mode,
                                   "phrases": [[midi for midi, _ in p] for p in tune["phrases"]]})
            continue
        rhythm_counts(tune, rhythm)
        clip = lambda d: min(DEG_HI, max(DEG_LO, d))  # noqa: E731
        prev2, prev1 = 0, 0  # a tune starts as if after a cadence on the tonic
        for phrase in tune["phrases"]:
            degrees = [clip(degree_of(midi - tonic, mode)[0]) for midi, _ in phrase]
            for i, d in enumerate(degrees):
                bucket = 0 if i == 0 else 3 if i == len(degrees) - 1 else 2 if i == len(degrees) - 2 else 1
                first[bucket, prev1 - DEG_LO, d - DEG_LO] += 1
                second[bucket, prev2 - DEG_LO, prev1 - DEG_LO, d - DEG_LO] += 1
                prev2, prev1 = prev1, d
        if tunes % 1000 == 0:
            print(f"{tunes} tunes", file=sys.stderr)

    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "tables.npz", first=first.astype(np.uint32), second=second.astype(np.uint32),
                        **{f"rhythm_{m.replace('/', '_')}": rhythm[m].astype(np.uint32) for m in METERS})
    index = np.array(sorted(hashes), dtype=np.uint32)
    np.savez_compressed(args.out / "copy_index.npz", hashes=index)
    stats = figures_of_tunes(held_out_tunes)
    stats["tunes"] = len(held_out_tunes)
    stats["source"] = "music21 corpus: essenFolksong (held out: crc32(file:X) % 10 == 0)"
    (args.out / "corpus_stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True) + "\n")
    print(f"{tunes} tunes read, {len(held_out_tunes)} held out; {len(index)} {RUN}-interval runs indexed; "
          f"tables in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
