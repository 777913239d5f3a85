"""The songwriting decoder on real (tiny, random-weight) models and on the embedded model:
every song has its plan's form, the chorus comes back token for token, the title opens
the chorus, lines are sung lengths, and streaming shows the song line by line."""

import dataclasses
import re

import pytest

from billion_songs.core.evaluation.songform import written_lines
from billion_songs.core.interface import Finished, Restart, TextDelta
from billion_songs.core.loader import load_generator
from billion_songs.core.songwriting.checks import ARCHAIC, form_problems, rhyming_lines, words
from billion_songs.core.songwriting.plan import CHORUS, plan_song

IDS = [0, 7, 1000, 2**64 - 1]


@pytest.fixture(scope="module", params=["plain", "lyrics"])
def generator(request, tiny_gpt2_dir, tiny_lyrics_gpt2_dir):
    """The plain GPT-2 prompt (with "[Chorus]" labels) and the lyrics-tuned format (none)."""
    model_dir = tiny_gpt2_dir if request.param == "plain" else tiny_lyrics_gpt2_dir
    generator = load_generator(str(model_dir), max_batch_size=12)
    # A random-weight model runs every line to its 20-token limit: give it room for the
    # longest form (a real model's songs take well under the default budget).
    generator.settings = dataclasses.replace(generator.settings, song_tokens=480)
    return generator


def test_every_song_has_its_plans_form(generator):
    for song in generator.generate(IDS):
        plan = plan_song(song.id)
        assert song.brief == plan.brief
        assert [s.kind for s in song.sections] == [s.kind for s in plan.sections]
        assert [len(s.lines) for s in song.sections] == [len(s.lines) for s in plan.sections]
        assert song.lyrics == "\n\n".join("\n".join(s.lines) for s in song.sections)
        choruses = [s.lines for s in song.sections if s.kind == CHORUS]
        assert len(choruses) >= 2 and all(c == choruses[0] for c in choruses)  # word for word
        verses = [s.lines for s in song.sections if s.kind == "verse"]
        assert len(set(verses)) == len(verses)  # verses differ
        # The title is the hook: it opens the chorus.
        assert words(choruses[0][0])[:len(words(song.title))] == words(song.title)
        for section, planned in zip(song.sections, plan.sections):
            for line, line_plan in zip(section.lines, planned.lines):
                assert line and line == line.strip() and "\n" not in line
                assert len(words(line)) <= 16  # never prose
        assert not ARCHAIC & set(words(song.lyrics))


def test_streaming_shows_the_song_line_by_line(generator):
    events = list(generator.stream(1000))
    final = events[-1]
    assert isinstance(final, Finished) and final.song == generator.generate([1000])[0]
    text, deltas = "", 0
    for event in events[:-1]:
        if isinstance(event, Restart):
            text, deltas = "", 0
        else:
            assert isinstance(event, TextDelta)
            text, deltas = text + event.text, deltas + 1
    # Title, then each line as it is chosen (a chorus sung again comes as one piece).
    assert deltas >= 1 + generator_plan_written_lines(1000)
    assert text == final.song.as_text()


def generator_plan_written_lines(song_id):
    return plan_song(song_id).written_lines


@pytest.mark.embedded
@pytest.mark.slow
def test_the_embedded_model_writes_songs_that_keep_the_contract():
    generator = load_generator("embedded")
    songs = generator.generate([1000, 1001, 1002, 1003])
    rhyming = total = 0
    for song in songs:
        assert song.ok, song.rejected
        assert form_problems(song.title, song.lyrics) == []
        r, t = rhyming_lines(song.lyrics)
        rhyming, total = rhyming + r, total + t
        assert not re.search(r"[_*#<>\[\]]", song.lyrics + song.title)  # no markup or chat tokens
    assert rhyming / total >= 0.4
    # Each song says something new line after line: few of its written lines' word pairs
    # come back within it (16% before the decoder's reuse penalty, 5% with it, on 40 songs).
    pairs = [[pair for line in written_lines(song.lyrics) for pair in zip(words(line), words(line)[1:])]
             for song in songs]
    repeated = sum(len(song_pairs) - len(set(song_pairs)) for song_pairs in pairs)
    assert repeated / sum(map(len, pairs)) < 0.12
    streamed = list(generator.stream(1003))
    assert isinstance(streamed[-1], Finished) and streamed[-1].song == songs[3]
