"""Melody speed: time to compose a song's melody and write its MIDI, per song.

    python bench/bench_melody.py [--songs 200] [--first-id 0] [--songs-file songs.jsonl]

Songs come from --songs-file (JSON lines, as `billion-songs songs --json` prints them) or
from the fake generator (the real song plan's form and line counts, toy words: 4 to 6
words a line). One warm-up song first: it loads the tables, the CMU dictionary and the
hyphenation patterns once per process. Each song's time is compose(song) + to_midi; the
per-word caches start empty for every song (syllables are looked up again), so no song
reuses another's work. Prints p50, p99 and the slowest, in milliseconds, of wall time and
of the process' CPU time (the work itself, when other processes share the cores), with the
load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    from billion_songs.core.evaluation.melody import song_from_dict
    from billion_songs.core.fake import FakeLyricsGenerator
    from billion_songs.core.melody import compose, to_midi
    from billion_songs.core.melody.rhythm import place
    from billion_songs.core.melody.syllables import word_syllables

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=200)
    parser.add_argument("--first-id", type=int, default=0)
    parser.add_argument("--songs-file", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.songs_file:
        songs = [song_from_dict(json.loads(line)) for line in args.songs_file.read_text().splitlines() if line]
        source = str(args.songs_file)
    else:
        songs = FakeLyricsGenerator().generate(list(range(args.first_id, args.first_id + args.songs)))
        source = f"fake songs {args.first_id}..{args.first_id + args.songs - 1}"
    songs = [s for s in songs if s.ok]
    to_midi(compose(songs[0]))  # warm-up: tables, dictionaries
    wall, cpu = [], []
    for song in songs:
        word_syllables.cache_clear()
        place.cache_clear()
        started, started_cpu = time.perf_counter(), time.process_time()
        to_midi(compose(song))
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)

    def pick(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    print(json.dumps({"songs": len(wall), "source": source, "machine": platform.machine(),
                      "load_average": [round(x, 2) for x in os.getloadavg()],
                      "wall_ms": {"p50": pick(wall, 0.5), "p99": pick(wall, 0.99), "max": pick(wall, 1.0)},
                      "cpu_ms": {"p50": pick(cpu, 0.5), "p99": pick(cpu, 0.99), "max": pick(cpu, 1.0)}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
