"""Songwriting speed: the old default against the new, side by side in one run.

    python bench/bench_songs.py [--songs 10] [--first-id 7000000] [--threads 2] [--streams 3]

- old: `--model verse`, the shipped verse adapter writing whole songs on its own (the
  free-form decoder), the site's default before the songwriting decoder;
- new: `--model default`, the embedded model under the songwriting decoder.

For each: the batched path (the pool filler's: `generate` of --songs ids at the default
batch size) as seconds per song, songs per minute and seconds per written line (a
stanza sung again is not written, so it is not counted); and the streamed path (a
visitor's first visit, --streams ids one after another) as seconds to the first text
(the title) and to the first lyric line. Each model runs in a process of its own, one
after the other, so their peak RSS is measured apart.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(model: str, first_id: int, songs: int, streams: int, threads: int) -> dict:
    """Run in a child process: one model, both paths."""
    from billion_songs.core.evaluation.songform import written_lines
    from billion_songs.core.interface import Restart, TextDelta
    from billion_songs.core.loader import load_generator

    generator = load_generator(model, threads=threads)
    generator.generate([first_id - 1])  # warm-up: the kernel, the vocabulary tables, caches
    ids = list(range(first_id, first_id + songs))
    start = time.perf_counter()
    written = generator.generate(ids)
    batched = time.perf_counter() - start
    lines = sum(len(written_lines(song.lyrics)) for song in written)  # a stanza sung again counts once
    first_text, first_line, whole = [], [], []
    for song_id in range(first_id + songs, first_id + songs + streams):
        start, text, seen_text, seen_line = time.perf_counter(), "", None, None
        for event in generator.stream(song_id):
            now = time.perf_counter() - start
            if isinstance(event, Restart):
                text = ""
            elif isinstance(event, TextDelta):
                text += event.text
                seen_text = seen_text if seen_text is not None else now
                # The title line, a blank line, then the first lyric line ends in "\n".
                if seen_line is None and len([line for line in text.split("\n")[1:] if line.strip()]) >= 1 \
                        and text.rstrip(" ").endswith("\n"):
                    seen_line = now
        whole.append(time.perf_counter() - start)
        first_text.append(seen_text)
        first_line.append(seen_line)
    return {
        "model": model,
        "model_version": generator.model_version,
        "songs": songs,
        "ok": sum(song.ok for song in written),
        "seconds_per_song": batched / songs,
        "songs_per_minute": 60 * songs / batched,
        "written_lines_per_song": lines / songs,
        "seconds_per_written_line": batched / lines,
        "stream_first_text_s": max(first_text),
        "stream_first_line_s": max(first_line),
        "stream_whole_song_s": sum(whole) / len(whole),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


ROWS = (
    ("seconds per song (batched)", "seconds_per_song", "{:.2f}"),
    ("songs per minute (batched)", "songs_per_minute", "{:.1f}"),
    ("written lines per song", "written_lines_per_song", "{:.1f}"),
    ("seconds per written line", "seconds_per_written_line", "{:.3f}"),
    ("streamed: first text (s, worst)", "stream_first_text_s", "{:.2f}"),
    ("streamed: first lyric line (s, worst)", "stream_first_line_s", "{:.2f}"),
    ("streamed: whole song (s, mean)", "stream_whole_song_s", "{:.1f}"),
    ("songs that passed the checks", "ok", "{}"),
    ("peak RSS (MiB)", "peak_rss_mib", "{:.0f}"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=10, help="songs on the batched path, per model")
    parser.add_argument("--streams", type=int, default=3, help="songs streamed one by one, per model")
    parser.add_argument("--first-id", type=int, default=7_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--old", default="verse", help="the old default model spec")
    parser.add_argument("--new", default="default", help="the new default model spec")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.first_id, args.songs, args.streams, args.threads)))
        return 0
    results = []
    for model in (args.old, args.new):
        command = [sys.executable, __file__, "--child", model, "--songs", str(args.songs), "--streams",
                   str(args.streams), "--first-id", str(args.first_id), "--threads", str(args.threads)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    old, new = results
    width = max(len(label) for label, _, _ in ROWS)
    print(f"{'':{width}}  {'old (' + args.old + ')':>16}  {'new (' + args.new + ')':>16}  {'new/old':>8}")
    for label, key, fmt in ROWS:
        ratio = new[key] / old[key] if old[key] else float("nan")
        print(f"{label:{width}}  {fmt.format(old[key]):>16}  {fmt.format(new[key]):>16}  {ratio:>7.2f}x")
    print(f"old: {old['model_version']}\nnew: {new['model_version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
