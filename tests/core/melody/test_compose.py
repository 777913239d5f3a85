import json

from billion_songs.core.melody import MELODY_VERSION, compose, to_abc, to_kar, to_midi
from billion_songs.core.melody.model import degree_of
from billion_songs.core.melody.rhythm import METERS
from billion_songs.core.melody.stanzas import stanzas_of
from billion_songs.core.melody.syllables import STRESSED, line_syllables
from billion_songs.core.song import Song
from billion_songs.core.songwriting.plan import brief_for
from tests.core.melody.conftest import first_id


def stanza_notes(melody, index):
    return [n for n in melody.notes if n.stanza == index]


def shape(notes):
    """Pitches, durations and onsets relative to the stanza's first bar."""
    first = min(n.start for n in notes)
    return [(n.pitch, n.duration, n.start - first, n.syllable) for n in notes]


def test_the_chorus_tune_comes_back_exactly(fake):
    song = fake.generate([first_id(lambda b: b.form == "verse-chorus-bridge")])[0]
    melody = compose(song)
    choruses = [i for i, s in enumerate(stanzas_of(song)) if s.kind == "chorus"]
    assert len(choruses) == 3
    tunes = [shape(stanza_notes(melody, i)) for i in choruses]
    assert tunes[0] == tunes[1] == tunes[2]


def test_verses_share_phrase_lengths_and_cadences_and_the_bridge_differs(fake):
    song = fake.generate([first_id(lambda b: b.form == "verse-chorus-bridge", 100)])[0]
    melody = compose(song)
    stanzas = stanzas_of(song)
    ends = {}
    for i, stanza in enumerate(stanzas):
        notes = stanza_notes(melody, i)
        last = notes[-1]
        ends.setdefault(stanza.kind, set()).add(degree_of(last.pitch - melody.tonic, melody.mode)[0] % 7)
    assert ends["verse"] == {0} and ends["chorus"] == {0}  # home on the tonic
    assert ends["bridge"] == {4}  # the bridge ends on the 5th, leading back to the chorus
    verses = [i for i, s in enumerate(stanzas) if s.kind == "verse"]
    finals = [[n.pitch for n in stanza_notes(melody, i) if n.phrase_end] for i in verses]
    assert finals[0] == finals[1]  # each verse line ends on the verse tune's note
    bridge = [i for i, s in enumerate(stanzas) if s.kind == "bridge"][0]
    bridge_pitches = [n.pitch for n in stanza_notes(melody, bridge)]
    assert bridge_pitches != [n.pitch for n in stanza_notes(melody, verses[0])][:len(bridge_pitches)]


def test_one_note_per_syllable_phrases_end_long_then_rest(fake):
    for song in fake.generate(list(range(20))):
        melody = compose(song)
        lines = [line for s in stanzas_of(song) for line in s.lines]
        assert len(melody.notes) == sum(len(line_syllables(line)) for line in lines)
        by_line = {}
        for note in melody.notes:
            by_line.setdefault(note.line, []).append(note)
        assert len(by_line) == len(lines)
        for index, notes in by_line.items():
            assert [n.phrase_end for n in notes] == [False] * (len(notes) - 1) + [True]
            assert notes[-1].duration >= 1.5 and notes[-1].duration >= max(n.duration for n in notes[:-1])
            if index + 1 in by_line:
                assert by_line[index + 1][0].start > notes[-1].start + notes[-1].duration  # a rest
            assert all(a.start + a.duration <= b.start for a, b in zip(notes, notes[1:]))


def test_in_key_in_range_no_leap_over_an_octave(fake):
    for song in fake.generate(list(range(30))):
        melody = compose(song)
        pitches = [n.pitch for n in melody.notes]
        assert all(degree_of(p - melody.tonic, melody.mode)[1] for p in pitches)
        assert max(pitches) - min(pitches) <= 19
        assert all(abs(b - a) <= 12 for a, b in zip(pitches, pitches[1:]))


def test_stressed_syllables_land_on_strong_beats():
    lyrics = ("The night train leaving town is calling out my name\n"
              "I hear the whistle blowing down the valley in the rain\n"
              "Beneath the silver water where the morning rivers run\n"
              "Remember every summer that we spent beneath the sun")
    song = Song(id=7, title="Night Train", lyrics=lyrics, model_version="t")
    melody = compose(song)
    meter = METERS[f"{melody.time_signature[0]}/{melody.time_signature[1]}"]
    stresses = [s.stress for line in lyrics.split("\n") for s in line_syllables(line)]
    stressed = [n for n, st in zip(melody.notes, stresses) if st == STRESSED]
    strong = [n for n in stressed if meter.strength[round(n.start * 2) % meter.bar] >= 1]
    assert len(strong) >= 0.75 * len(stressed)


def test_key_tempo_and_feel_follow_the_brief(fake):
    shanty = compose(fake.generate([first_id(lambda b: b.genre == "sea shanty")])[0])
    assert shanty.time_signature == (6, 8)
    sad = compose(fake.generate([first_id(lambda b: b.mood == "sad" and b.genre == "ballad")])[0])
    happy = compose(fake.generate([first_id(lambda b: b.mood == "joyful" and b.genre == "punk")])[0])
    assert sad.mode == "minor" and happy.mode == "major"
    assert sad.tempo < happy.tempo - 40


def test_a_song_stored_before_song_form_gets_a_tune_too():
    lyrics = ("Walking down the road tonight\nall the stars are shining bright\n\n"
              "Oh my darling come with me\nwe will sail across the sea\n\n"
              "Cold wind blowing through the town\nleaves are falling all around\n\n"
              "Oh my darling come with me\nwe will sail across the sea")
    old = Song(id=123456789, title="Come With Me", lyrics=lyrics, model_version="old-1")
    melody = compose(old)
    stanzas = stanzas_of(old)
    assert [s.kind for s in stanzas] == ["verse", "chorus", "verse", "chorus"]
    assert shape(stanza_notes(melody, 1)) == shape(stanza_notes(melody, 3))
    style_brief = brief_for(old.id)
    assert melody.version == MELODY_VERSION
    assert (melody.time_signature == (6, 8)) == (style_brief.genre == "sea shanty")


def test_as_dict_is_json_for_the_api(fake):
    melody = compose(fake.generate([5])[0])
    data = json.loads(json.dumps(melody.as_dict()))
    assert set(data) >= {"key", "mode", "tempo", "time_signature", "notes", "version"}
    assert data["notes"][0].keys() >= {"pitch", "start", "duration", "syllable"}
    assert len(data["notes"]) == len(melody.notes)


def test_a_song_without_lyrics_gets_an_empty_tune_not_an_error():
    melody = compose(Song(id=3, title="", lyrics="", model_version="t", ok=False))
    assert melody.notes == () and melody.chords == ()
    assert to_midi(melody) and to_kar(melody) and to_abc(melody, "").startswith("X:1")
