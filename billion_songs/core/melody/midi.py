"""Standard MIDI (type 1) of a melody, written with mido: a conductor track (tempo, time
and key signature), the melody and a chord accompaniment, 480 ticks a beat."""

from __future__ import annotations

import io

import mido

from billion_songs.core.melody.melody import Melody

TICKS_PER_BEAT = 480
MELODY_CHANNEL, CHORD_CHANNEL = 0, 1
MELODY_PROGRAM, CHORD_PROGRAM = 73, 0  # General MIDI: flute sings the tune, piano the chords
MELODY_VELOCITY, CHORD_VELOCITY = 96, 56


def ticks(beats: float) -> int:
    return round(beats * TICKS_PER_BEAT)


def track(name: str, events: list[tuple[int, int, mido.Message]]) -> mido.MidiTrack:
    """A track from (absolute tick, order at that tick, message): metas first, then note
    offs before note ons, so a repeated pitch is released before it sounds again."""
    out = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    now = 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        out.append(message.copy(time=tick - now))
        now = tick
    out.append(mido.MetaMessage("end_of_track", time=0))
    return out


def conductor_events(melody: Melody) -> list:
    numerator, denominator = melody.time_signature
    return [
        (0, 0, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator,
                                clocks_per_click=36 if denominator == 8 else 24)),
        (0, 0, mido.MetaMessage("key_signature", key=melody.key_name)),
        (0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(melody.tempo))),
    ]


def melody_events(melody: Melody) -> list:
    events = [(0, 0, mido.Message("program_change", channel=MELODY_CHANNEL, program=MELODY_PROGRAM))]
    for note in melody.notes:
        on, off = ticks(note.start), ticks(note.start + note.duration)
        events.append((on, 2, mido.Message("note_on", channel=MELODY_CHANNEL, note=note.pitch,
                                           velocity=MELODY_VELOCITY)))
        events.append((off, 1, mido.Message("note_off", channel=MELODY_CHANNEL, note=note.pitch, velocity=0)))
    return events


def chord_events(melody: Melody) -> list:
    events = [(0, 0, mido.Message("program_change", channel=CHORD_CHANNEL, program=CHORD_PROGRAM))]
    for chord in melody.chords:
        on, off = ticks(chord.start), ticks(chord.start + chord.duration)
        for pitch in chord.pitches:
            events.append((on, 2, mido.Message("note_on", channel=CHORD_CHANNEL, note=pitch, velocity=CHORD_VELOCITY)))
            events.append((off, 1, mido.Message("note_off", channel=CHORD_CHANNEL, note=pitch, velocity=0)))
    return events


def file_bytes(tracks: list[mido.MidiTrack]) -> bytes:
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.extend(tracks)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def to_midi(melody: Melody) -> bytes:
    """The song as a standard MIDI file: tracks "Conductor", "Melody", "Chords"."""
    return file_bytes([
        track("Conductor", conductor_events(melody)),
        track("Melody", melody_events(melody)),
        track("Chords", chord_events(melody)),
    ])
