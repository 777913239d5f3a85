import hashlib
import io
import subprocess
import sys

import mido

from billion_songs.core.melody import compose, to_abc, to_kar, to_midi
from billion_songs.core.melody.kar import lyric_events, lyric_text
from billion_songs.core.melody.stanzas import stanzas_of
from billion_songs.core.melody.syllables import line_syllables

IDS = (0, 1, 2, 99, 2**64 - 1)


def parse(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


def test_midi_holds_melody_chords_tempo_key_and_time_signature(fake):
    song = fake.generate([3])[0]
    melody = compose(song)
    midi = parse(to_midi(melody))
    assert midi.type == 1 and [t.name for t in midi.tracks] == ["Conductor", "Melody", "Chords"]
    metas = {m.type: m for m in midi.tracks[0] if m.is_meta}
    assert metas["set_tempo"].tempo == mido.bpm2tempo(melody.tempo)
    assert (metas["time_signature"].numerator, metas["time_signature"].denominator) == melody.time_signature
    assert metas["key_signature"].key == melody.key_name
    ons = [m for m in midi.tracks[1] if m.type == "note_on" and m.velocity > 0]
    assert [m.note for m in ons] == [n.pitch for n in melody.notes]
    chords = [m for m in midi.tracks[2] if m.type == "note_on" and m.velocity > 0]
    assert len(chords) == 3 * len(melody.chords) > 0
    assert abs(midi.length - melody.beats * 60 / melody.tempo) < 0.01


def test_kar_has_one_lyric_event_per_syllable_in_order_spelling_the_lyrics(fake):
    for song in fake.generate(list(range(10))):
        melody = compose(song)
        kar = to_kar(melody)
        events = lyric_events(kar)
        syllables = [s.text for sec in stanzas_of(song) for line in sec.lines for s in line_syllables(line)]
        assert [e.lstrip("\\/ ") for e in events] == syllables
        assert lyric_text(events) == song.lyrics
        assert sum(e.startswith("\\") for e in events) == len(stanzas_of(song)) - 1
        stanzas = len(stanzas_of(song))
        lines = len(song.lyrics.split("\n")) - (stanzas - 1)  # less the blank lines
        assert sum(e.startswith("/") for e in events) == lines - stanzas
        midi = parse(kar)
        words = next(t for t in midi.tracks if t.name == "Words")
        headers = [m.text for m in words if m.type == "text" and m.text.startswith("@")]
        assert headers[:2] == ["@KMIDI KARAOKE FILE", "@V0100"] and f"@T{song.title}" in headers
        # each syllable sounds with its note
        ticks, now = [], 0
        for m in words:
            now += m.time
            if m.type == "text" and not m.text.startswith("@"):
                ticks.append(now)
        assert ticks == [round(n.start * midi.ticks_per_beat) for n in melody.notes]


def test_abc_has_one_music_line_per_lyric_line_with_words_under_the_notes(fake):
    song = fake.generate([4])[0]
    melody = compose(song)
    abc = to_abc(melody, song.title)
    lines = abc.splitlines()
    assert lines[:2] == ["X:1", f"T:{song.title}"] and f"K:{melody.key_name}" in lines
    music = [line for line in lines if not line[1:2] == ":"]
    words = [line[3:] for line in lines if line.startswith("w: ")]
    lyric_lines = song.lyrics.replace("\n\n", "\n").split("\n")
    assert len(music) == len(words) == len(lyric_lines)
    for notes_line, w, lyric in zip(music, words, lyric_lines):
        note_tokens = [t for t in notes_line.replace("|", " ").split() if t[0] in "ABCDEFGabcdefg"]
        assert len(note_tokens) == len(line_syllables(lyric))
        assert w.replace("-", "") == " ".join(lyric.split())


def digests(ids) -> list[str]:
    from billion_songs.core.fake import FakeLyricsGenerator

    out = []
    for song in FakeLyricsGenerator().generate(list(ids)):
        melody = compose(song)
        out.append(hashlib.sha256(to_midi(melody) + to_kar(melody) + to_abc(melody, song.title).encode()).hexdigest())
    return out


def test_byte_identical_across_runs_and_processes():
    here = digests(IDS)
    assert here == digests(IDS)
    code = ("from tests.core.melody.test_writers import digests, IDS; print(' '.join(digests(IDS)))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert other.stdout.split() == here
