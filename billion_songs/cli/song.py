"""`billion-songs song` and `billion-songs songs`: print songs from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from billion_songs.core.engine.modelfile import ModelLoadError
from billion_songs.core.melody import compose, to_abc, to_kar, to_midi
from billion_songs.core.song import InvalidSongId, Song, parse_song_id


class SongIdType(click.ParamType):
    name = "ID"

    def convert(self, value, param, ctx) -> int:
        try:
            return parse_song_id(value)
        except InvalidSongId as exc:
            self.fail(str(exc), param, ctx)


SONG_ID = SongIdType()
MODEL_HELP = ("Model: 'embedded' (the default: SmolLM2-135M-Instruct with the songwriting decoder), 'verse' "
              "(the old default: the shipped verse adapter, free-form), an engine or Hugging Face directory, "
              "a LoRA adapter directory, or a hub id.")
model_option = click.option("--model", "model", default=None, metavar="M", help=MODEL_HELP)
decoder_option = click.option("--decoder", type=click.Choice(["song", "free"]), default=None,
                              help="'song': written line by line under the song plan (verses, a chorus sung "
                                   "again, rhyme); 'free': the model writes the whole song on its own. "
                                   "[default: the model's own]")
threads_option = click.option("--threads", type=click.IntRange(min=1), default=None,
                              help="CPU threads for the engine (songs are identical at any count).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per song).")


def _generator(model: str | None, threads: int | None, batch_size: int = 32, decoder: str | None = None):
    from billion_songs.core.loader import load_generator

    try:
        return load_generator(model, threads=threads, max_batch_size=batch_size, decoder=decoder)
    except ModelLoadError as exc:
        raise click.ClickException(str(exc)) from None


def warn_if_failed(song: Song) -> None:
    """A failed song is still printed (it is what the id maps to), with a note on stderr."""
    if not song.ok:
        click.echo(f"song {song.id}: every attempt failed the quality checks ({', '.join(song.rejected)})",
                   err=True)


def render(song: Song, as_json: bool) -> str:
    if as_json:
        return json.dumps(song.as_dict(), ensure_ascii=False) + "\n"
    return song.as_text()


# ignore_unknown_options: "-5" reaches the ID argument and gets the clear "must not be
# negative" error instead of click's "no such option: -5".
@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("song_id", type=SONG_ID, metavar="ID")
@json_option
@model_option
@decoder_option
@threads_option
@click.option("--midi", "midi_file", metavar="OUT.mid", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the song's melody as a standard MIDI file (melody, chords, tempo, key and time "
                   "signature).")
@click.option("--kar", "kar_file", metavar="OUT.kar", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write it as karaoke MIDI: one lyric event per syllable, as karaoke players read them.")
@click.option("--abc", "abc_file", metavar="OUT.abc", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write it as ABC notation (sheet music with the lyrics under the notes).")
def song(song_id: int, as_json: bool, model: str | None, decoder: str | None, threads: int | None,
         midi_file: Path | None, kar_file: Path | None, abc_file: Path | None) -> None:
    """Print song ID (0 to 2**64-1): title line, blank line, lyrics.

    With --midi, --kar or --abc it also writes the song's melody (docs/melody.md): the
    same tune for the same song in every run."""
    generator = _generator(model, threads, batch_size=1, decoder=decoder)
    result = generator.generate([song_id])[0]
    warn_if_failed(result)
    click.echo(render(result, as_json), nl=False)
    if midi_file or kar_file or abc_file:
        write_melody(result, midi_file, kar_file, abc_file)


def write_melody(result: Song, midi_file: Path | None, kar_file: Path | None, abc_file: Path | None) -> None:
    if not result.ok:
        raise click.ClickException(f"song {result.id} failed its quality checks: it has no lyrics to sing")
    tune = compose(result)
    for path, data in ((midi_file, lambda: to_midi(tune)), (kar_file, lambda: to_kar(tune)),
                       (abc_file, lambda: to_abc(tune, result.title).encode("utf-8"))):
        if path is not None:
            path.write_bytes(data())
            click.echo(f"wrote {path}", err=True)


@click.command()
@click.option("--from", "first", type=SONG_ID, required=True, help="First song id.")
@click.option("--count", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1, max=256), default=32, show_default=True,
              help="Rows decoded together: songs (free-form) or candidate lines of several songs "
                   "(songwriting). The output does not depend on it.")
@json_option
@model_option
@decoder_option
@threads_option
def songs(first: int, count: int, batch_size: int, as_json: bool, model: str | None, decoder: str | None,
          threads: int | None) -> None:
    """Print songs --from N to N+count-1 through the batched path, in id order.

    Each song is printed exactly as `song` prints it; in text mode songs are separated by
    a line holding only "%%" (JSON mode prints one object per line)."""
    last = first + count - 1
    try:
        parse_song_id(last)
    except InvalidSongId:
        raise click.BadParameter(f"--from {first} --count {count} runs past the last song id 2**64-1",
                                 param_hint="--count") from None
    generator = _generator(model, threads, batch_size, decoder)
    ids = list(range(first, last + 1))
    # Generate in groups so that the first songs print while later ones are written.
    group = batch_size
    for start in range(0, len(ids), group):
        for index, result in enumerate(generator.generate(ids[start:start + group])):
            warn_if_failed(result)
            if not as_json and start + index > 0:
                click.echo("%%")
            click.echo(render(result, as_json), nl=False)
