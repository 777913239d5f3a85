"""`eval`: generate songs with a model and score them; several models side by side.

    model spec -> load_generator -> songs for ids first_id .. first_id + N - 1 (the very
    songs the site would show for those ids) -> text metrics, rhyme density, song form
    (the song contract's checks, copies of the prompt's example song), speed
    + with a prepared dataset: validation perplexity (int8 engine) and memorization
      (runs of 8+ words copied from the training split)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from billion_songs.core.evaluation.memorization import MAX_CORPUS_TOKENS, CorpusIndex, index_prepared
from billion_songs.core.evaluation.metrics import text_metrics
from billion_songs.core.evaluation.perplexity import MAX_TOKENS, engine_perplexity
from billion_songs.core.evaluation.rhyme import rhyme_density
from billion_songs.core.evaluation.songform import example_index, songform_metrics
from billion_songs.core.tuning.dataset import PreparedDataset

EXAMPLES = 3  # songs quoted in the JSON report, to read next to the numbers (default)
GENERATE_BATCH = 16  # songs per generate() call: progress is reported between calls


@dataclass(frozen=True)
class EvalConfig:
    songs: int = 50  # songs generated per model
    first_id: int = 0  # ids first_id .. first_id + songs - 1: the same songs for every model run
    val_tokens: int = MAX_TOKENS  # validation tokens scored for perplexity
    corpus_tokens: int = MAX_CORPUS_TOKENS  # training tokens indexed for memorization
    threads: int | None = None  # engine threads (None: the engine's default)
    examples: int = EXAMPLES  # songs quoted verbatim in each model's report


def evaluate_model(spec: str, config: EvalConfig, *, data: PreparedDataset | None = None,
                   corpus: CorpusIndex | None = None, say: Callable[[str], None] = lambda m: None) -> dict:
    """The report of one model (a JSON-ready dict)."""
    # Lazy, not for a cycle: the loader brings torch and the engine, which `--melody` and
    # the report's readers do not need.
    from billion_songs.core.loader import load_generator

    started = time.perf_counter()
    generator = load_generator(spec, threads=config.threads)
    loaded_s = time.perf_counter() - started
    ids = list(range(config.first_id, config.first_id + config.songs))
    songs = []
    started = time.perf_counter()
    for first in range(0, len(ids), GENERATE_BATCH):
        songs.extend(generator.generate(ids[first : first + GENERATE_BATCH]))
        say(f"{spec}: {len(songs)}/{len(ids)} songs")
    generated_s = time.perf_counter() - started
    metrics = text_metrics(songs).as_dict()
    metrics["rhyme_density"] = rhyme_density([song.lyrics for song in songs])
    songform = songform_metrics(songs, example=example_index())
    report = {
        "model": spec or "embedded",
        "model_version": generator.model_version,
        "song_ids": [ids[0], ids[-1]],
        "metrics": metrics,
        "songform": songform.as_dict(),
        "validation": None,
        "memorization": None,
        "seconds": {"load": round(loaded_s, 2), **speed(generated_s, len(songs), songform.written_lines)},
        "examples": [song.as_dict() for song in songs[: config.examples]],
    }
    if data is not None:
        say(f"{spec}: validation perplexity")
        started = time.perf_counter()
        report["validation"] = engine_perplexity(generator.loaded, data, max_tokens=config.val_tokens).as_dict()
        report["seconds"]["perplexity"] = round(time.perf_counter() - started, 2)
    if corpus is not None:
        report["memorization"] = {
            "copied_share": corpus.copied_share([f"{song.title}\n{song.lyrics}" for song in songs]),
            "run_words": corpus.run_words,
            "corpus_tokens": corpus.tokens,
            "corpus_total_tokens": corpus.total_tokens,
        }
    return report


def speed(generate_s: float, songs: int, written_lines: int) -> dict:
    """Generation speed: the seconds generate() took (retries included, loading not) per
    song and per written line (lines of distinct stanzas), and songs per minute."""
    return {
        "generate": round(generate_s, 2),
        "per_song": round(generate_s / songs, 3) if songs else None,
        "per_written_line": round(generate_s / written_lines, 4) if written_lines else None,
        "songs_per_minute": round(60 * songs / generate_s, 2) if generate_s > 0 else None,
    }


def evaluate(specs: Sequence[str], config: EvalConfig, *, data: PreparedDataset | None = None,
             say: Callable[[str], None] = lambda m: None) -> dict:
    """Reports of several models on the same song ids and the same data."""
    corpus = index_prepared(data, max_tokens=config.corpus_tokens) if data is not None else None
    return {
        "config": {
            "songs": config.songs,
            "first_id": config.first_id,
            "data": str(data.directory) if data is not None else None,
            "val_tokens": config.val_tokens,
            "examples": config.examples,
        },
        "reports": [evaluate_model(spec, config, data=data, corpus=corpus, say=say) for spec in specs],
    }


# (label, where in a report, format, goal): the rows of the table. The goals are the
# song-form goals of the songwriting decoder ("" where a row has none); they are printed
# beside the numbers, not checked; their shares show one decimal, so 0.4% is not "0%".
ROWS = (
    ("degenerate (loops)", ("metrics", "degenerate"), "{:.0%}", ""),
    ("failed all attempts", ("metrics", "failed"), "{:.1%}", "<1%"),
    ("distinct-2", ("metrics", "distinct_2"), "{:.3f}", ""),
    ("distinct-3", ("metrics", "distinct_3"), "{:.3f}", ""),
    ("lines per song", ("metrics", "lines_per_song"), "{:.1f}", ""),
    ("words per line", ("metrics", "words_per_line"), "{:.1f}", ""),
    ("rhyme density", ("metrics", "rhyme_density"), "{:.3f}", ""),
    ("with a title", ("metrics", "with_title"), "{:.0%}", ""),
    ("chat/template artifacts", ("metrics", "artifacts"), "{:.0%}", ""),
    ("val perplexity (int8)", ("validation", "perplexity"), "{:,.2f}", ""),
    ("memorized (8+ words)", ("memorization", "copied_share"), "{:.1%}", "0%"),
    ("song-shaped", ("songform", "song_shaped"), "{:.1%}", ">=95%"),
    ("rhyming lines", ("songform", "rhyming_lines"), "{:.1%}", ">=50%"),
    ("clean titles", ("songform", "clean_titles"), "{:.1%}", "100%"),
    ("title in the lyrics", ("songform", "title_in_lyrics"), "{:.1%}", ">=95%"),
    ("archaic lines", ("songform", "archaic_lines"), "{:.1%}", "<1%"),
    ("prose lines (>16 words)", ("songform", "prose_lines"), "{:.1%}", "<1%"),
    ("songs with a loop", ("songform", "loops"), "{:.1%}", "<1%"),
    ("copies the example (8+ words)", ("songform", "copies_example"), "{:.1%}", "0%"),
    ("distinct-2, written lines per song", ("songform", "distinct_2_written"), "{:.3f}", ""),
    ("seconds per song", ("seconds", "per_song"), "{:.2f}", ""),
    ("seconds per written line", ("seconds", "per_written_line"), "{:.3f}", ""),
    ("songs per minute", ("seconds", "songs_per_minute"), "{:.1f}", ""),
)


def format_table(result: dict) -> str:
    reports = result["reports"]
    headers = ["metric", "goal", *(Path(report["model"]).name or report["model"] for report in reports)]
    rows = [[label, goal, *(_cell(report, path, fmt) for report in reports)] for label, path, fmt, goal in ROWS]
    rows.append(["songs", "", *(str(report["metrics"]["songs"]) for report in reports)])
    rows.append(["model_version", "", *(report["model_version"] for report in reports)])
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    line = lambda cells: "  ".join(
        cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(cells))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _cell(report: dict, path: tuple[str, str], fmt: str) -> str:
    section = report.get(path[0]) or {}
    value = section.get(path[1])
    return "n/a" if value is None else fmt.format(value)
