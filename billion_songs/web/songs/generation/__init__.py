"""The generation layer: writing songs and handing them out, for both shapes: one song
writer, the pool and its filler, flights (one generation per id), Make Random's picker.

`fake_generator` is named here because `billion_songs.web.songs.generation.fake_generator`
is the documented value of SONG_GENERATOR_FACTORY for running the site without a model."""

from billion_songs.web.songs.generation.factory import fake_generator

__all__ = ["fake_generator"]
