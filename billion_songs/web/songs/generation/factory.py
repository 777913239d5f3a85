"""Where the web layer gets its LyricsGenerator: a factory named by a setting, so that
`billion-songs serve` runs the real engine and tests and web benchmarks run a fake."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from billion_songs.core.fake import FakeLyricsGenerator
from billion_songs.core.interface import LyricsGenerator


def generator_load(*, model: str | None = None, threads: int | None = None) -> LyricsGenerator:
    """Build the generator named by SONG_GENERATOR_FACTORY. The real factory prepares the
    model on first use (showing progress on the terminal) and loads it in seconds later."""
    factory = import_string(settings.SONG_GENERATOR_FACTORY)
    return factory(model=model or settings.SONG_GENERATOR_MODEL, threads=threads or settings.SONG_GENERATOR_THREADS)


def fake_generator(model: str | None = None, threads: int | None = None) -> LyricsGenerator:
    """The model-free generator, for running the site without a model. `model` becomes
    its model_version; FAKE_GENERATOR_LINE_DELAY and FAKE_GENERATOR_SONG_DELAY slow streaming
    and batches down to a model's pace."""
    return FakeLyricsGenerator(model_version=model or "fake-1", line_delay=settings.FAKE_GENERATOR_LINE_DELAY,
                               song_delay=settings.FAKE_GENERATOR_SONG_DELAY)
