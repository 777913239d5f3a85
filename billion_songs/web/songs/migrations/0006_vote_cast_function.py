"""The vote as one statement on PostgreSQL (data/vote_function.py); nothing on SQLite."""

from django.db import migrations

from billion_songs.web.songs.data import vote_function


def _tables(apps, schema_editor) -> dict[str, str]:
    quote = schema_editor.connection.ops.quote_name
    return {name: quote(apps.get_model("songs", model)._meta.db_table)
            for name, model in (("tally", "SongTally"), ("song", "Song"), ("vote", "Vote"))}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(vote_function.create_sql(**_tables(apps, schema_editor)))


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(vote_function.DROP_SQL)


class Migration(migrations.Migration):

    dependencies = [
        ("songs", "0005_song_melody_version"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
