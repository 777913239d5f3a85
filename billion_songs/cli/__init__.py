"""The `billion-songs` command line. Each command lives in its own module."""

import click

from billion_songs.cli import eval as eval_cmd
from billion_songs.cli import export as export_cmd
from billion_songs.cli import prepare as prepare_cmd
from billion_songs.cli import serve as serve_cmd
from billion_songs.cli import song as song_cmd
from billion_songs.cli import train as train_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="billion-songs")
def main() -> None:
    """Billion Songs: every number from 0 to 2**64-1 is a song."""


main.add_command(song_cmd.song)
main.add_command(song_cmd.songs)
main.add_command(prepare_cmd.prepare)
main.add_command(train_cmd.train)
main.add_command(export_cmd.export)
main.add_command(eval_cmd.eval_command)
main.add_command(serve_cmd.serve)
main.add_command(serve_cmd.worker)
