"""`billion-songs eval`: a quality report of one or more models (JSON and a table)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from billion_songs.core.evaluation.report import EvalConfig

D = EvalConfig()


@click.command(name="eval")
@click.option("--model", "models", multiple=True, metavar="M",
              help="Model to evaluate; repeat to compare (e.g. --model verse --model default: the old default "
                   "against the new). "
                   "[default: embedded]")
@click.option("--songs", type=click.IntRange(min=1), default=D.songs, show_default=True,
              help="Songs generated per model (ids --first-id onwards, the same for every model).")
@click.option("--first-id", type=click.IntRange(min=0), default=D.first_id, show_default=True)
@click.option("--data", "data_dir", metavar="PREPARED_DIR", type=click.Path(path_type=Path), default=None,
              help="Prepared dataset: adds validation perplexity and memorization of its training split.")
@click.option("--val-tokens", type=click.IntRange(min=2), default=D.val_tokens, show_default=True,
              help="Validation tokens scored for perplexity.")
@click.option("--out", "out_file", metavar="report.json", type=click.Path(path_type=Path), default=None,
              help="Write the full report here as JSON.")
@click.option("--examples", type=click.IntRange(min=0), default=D.examples, show_default=True,
              help="Songs per model quoted verbatim in the JSON report.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for the engine.")
@click.option("--melody", is_flag=True,
              help="Report on the songs' melodies instead (use --songs 200 or more): notes in key, phrase ends on "
                   "degrees 1/3/5, range, leaps over an octave, stepwise motion and intervals next to held-out "
                   "folk tunes, runs copied from the corpus, .kar lyric events, compose+MIDI time. Songs come "
                   "from --songs-file, or from the first --model ('fake': the test fake, toy words in the real "
                   "song form).")
@click.option("--songs-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="With --melody: songs as JSON lines (`billion-songs songs --json` output) instead of generating.")
def eval_command(models: tuple[str, ...], songs: int, first_id: int, data_dir: Path | None, val_tokens: int,
                 out_file: Path | None, examples: int, threads: int | None, melody: bool,
                 songs_file: Path | None) -> None:
    """Generate songs with each model and report: degenerate songs (repetition loops),
    distinct-2/3, lines per song, words per line, rhyme density (CMU dictionary), share
    with a title, chat/template artifacts; the song form against its goals (song-shaped,
    rhyming lines, clean titles, title in the lyrics, archaic and prose lines, loops,
    copies of the prompt's example song); speed (seconds per song and per written line,
    songs per minute); and with --data validation perplexity (measured with the int8
    engine) and memorization (8+ words copied from training). With --melody: the melody
    report (docs/melody.md)."""
    if melody:
        _melody_eval(models, songs, first_id, threads, songs_file, out_file)
        return
    from billion_songs.core.engine.modelfile import ModelLoadError
    from billion_songs.core.evaluation.report import evaluate, format_table
    from billion_songs.core.tuning.dataset import load_prepared
    from billion_songs.core.tuning.errors import PrepareError

    config = EvalConfig(songs=songs, first_id=first_id, val_tokens=val_tokens, threads=threads, examples=examples)
    try:
        data = load_prepared(data_dir) if data_dir is not None else None
        result = evaluate(list(models) or ["embedded"], config, data=data,
                          say=lambda message: click.echo(message, err=True))
    except (ModelLoadError, PrepareError) as exc:
        raise click.ClickException(str(exc)) from None
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(format_table(result))
    if out_file is not None:
        click.echo(f"Report: {out_file}")


def _melody_songs(models: tuple[str, ...], count: int, first_id: int, threads: int | None,
                  songs_file: Path | None) -> tuple[list, str]:
    from billion_songs.core.engine.modelfile import ModelLoadError
    from billion_songs.core.evaluation.melody import song_from_dict

    if songs_file is not None:
        lines = [line for line in songs_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [song_from_dict(json.loads(line)) for line in lines], f"{len(lines)} songs from {songs_file}"
    spec = models[0] if models else "embedded"
    ids = list(range(first_id, first_id + count))
    if spec == "fake":
        from billion_songs.core.fake import FakeLyricsGenerator

        generator = FakeLyricsGenerator()
    else:
        from billion_songs.core.loader import load_generator

        try:
            generator = load_generator(spec, threads=threads)
        except ModelLoadError as exc:
            raise click.ClickException(str(exc)) from None
    return generator.generate(ids), f"songs {ids[0]}..{ids[-1]} of model {spec}"


def _melody_eval(models: tuple[str, ...], count: int, first_id: int, threads: int | None,
                 songs_file: Path | None, out_file: Path | None) -> None:
    # Lazy: the melody package loads its tables; the plain eval does not need them.
    from billion_songs.core.evaluation.melody import format_melody_table, melody_report

    songs, source = _melody_songs(models, count, first_id, threads, songs_file)
    report = melody_report(songs, source)
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(format_melody_table(report))


eval = eval_command
