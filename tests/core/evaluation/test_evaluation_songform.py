"""Song-form statistics on hand-made songs, where the right answer is known."""

import pytest

from billion_songs.core import prompts
from billion_songs.core.evaluation.metrics import words
from billion_songs.core.evaluation.songform import example_index, example_text, songform_metrics, written_lines
from billion_songs.core.song import Song


def song(title="Lantern Light", lyrics="", ok=True):
    return Song(id=1, title=title, lyrics=lyrics, model_version="test", ok=ok)


VERSE_1 = """The kettle hums beside the door
The dog is dreaming on the floor
I count the coins I saved in June
And whistle up an older tune"""
CHORUS = """Hold on to the lantern light
Carry it into the night
Every window, every mile
Hold it close a little while"""
VERSE_2 = """The snow came early to the hill
The water wheel is turning still
My father waited by the gate
He told me it was never late"""
SONG = "\n\n".join([VERSE_1, CHORUS, VERSE_2, CHORUS])  # 16 sung lines, 12 written: every one rhymes


def test_written_lines_count_a_chorus_sung_again_once():
    assert len(written_lines(SONG)) == 12
    assert written_lines("[Chorus]\nla di da\nhey now\n\nLA DI DA\nHey now") == ["la di da", "hey now"]


def test_a_song_shaped_song_meets_every_goal():
    form = songform_metrics([song(lyrics=SONG)], example=example_index(""))
    assert form.songs == 1 and form.written_lines == 12
    assert form.song_shaped == 1.0 and form.rhyming_lines == 1.0
    assert form.clean_titles == 1.0 and form.title_in_lyrics == 1.0
    assert form.archaic_lines == form.prose_lines == form.loops == form.copies_example == 0.0


def test_a_song_without_stanzas_or_a_chorus_is_not_song_shaped():
    one_stanza = "\n".join([VERSE_1, CHORUS, VERSE_2, CHORUS])  # 16 lines, no blank line
    no_chorus = "\n\n".join([VERSE_1, CHORUS, VERSE_2])  # 3 stanzas but none sung again
    eleven_lines = "\n\n".join([VERSE_1[: VERSE_1.rindex("\n")], CHORUS, CHORUS])
    shortest = "\n\n".join([VERSE_1, CHORUS, CHORUS])  # 12 lines in 3 stanzas, a chorus: a song
    loop = "Hold on, hold on, hold on, hold on, hold on\nCarry it into the night"  # a phrase looping in a line
    looping = "\n\n".join([VERSE_1, CHORUS, VERSE_2, CHORUS, loop])
    texts = (one_stanza, no_chorus, eleven_lines, shortest, looping, SONG)
    form = songform_metrics([song(lyrics=text) for text in texts], example=example_index(""))
    assert form.song_shaped == pytest.approx(2 / 6)
    assert form.loops == pytest.approx(1 / 6)
    assert songform_metrics([song(lyrics=VERSE_1)], example=example_index("")).song_shaped == 0.0


def test_archaic_and_prose_lines_are_shares_of_written_lines():
    lyrics = "\n\n".join([
        "Thou art the morning on the door\nI wait for thee upon the floor",  # two archaic lines
        "I went down to the station in the morning and I waited for the train that never came back home again",
        "o'er the hill\nthe rain is still",  # "o'er" is archaic
        "Thou art the morning on the door\nI wait for thee upon the floor",  # sung again: written once
    ])
    form = songform_metrics([song(title="Morning", lyrics=lyrics)], example=example_index(""))
    assert form.written_lines == 5
    assert form.archaic_lines == pytest.approx(3 / 5)
    assert form.prose_lines == pytest.approx(1 / 5)


def test_title_checks():
    songs = [
        song(title="Lantern Light", lyrics=SONG),  # clean, in the chorus
        song(title="Title: Lantern Light", lyrics=SONG),  # a stray colon: not clean, but its words are sung
        song(title="Paper Moon", lyrics=SONG),  # clean, never sung
        song(title="", lyrics=SONG),
    ]
    form = songform_metrics(songs, example=example_index(""))
    assert form.clean_titles == pytest.approx(2 / 4)
    assert form.title_in_lyrics == pytest.approx(1 / 4)  # "title lantern light" is not in a line


def test_a_song_copying_eight_words_of_the_prompt_example_is_caught():
    sung = words(example_text(prompts.EXAMPLE_SONG).split("\n", 1)[1])  # the example's lyrics, title left out
    copied = " ".join(sung[:8])
    almost = " ".join(sung[:7])
    songs = [song(lyrics=SONG.replace("Carry it into the night", copied.upper() + "!")),
             song(lyrics=SONG.replace("Carry it into the night", almost)), song(lyrics=SONG)]
    form = songform_metrics(songs)  # the example is read from prompts.EXAMPLE_SONG now
    assert form.copies_example == pytest.approx(1 / 3) and form.run_words == 8


def test_the_example_is_read_when_measured_and_its_labels_are_not_words(monkeypatch):
    example = "Title: Road Song\n\n[Verse 1]\none two three four\nfive six seven eight"
    monkeypatch.setattr(prompts, "EXAMPLE_SONG", example)
    assert example_text(prompts.EXAMPLE_SONG) == "Road Song\none two three four\nfive six seven eight"
    index = example_index()
    assert index.copies("One, two, three, four, five, six, seven, eight")
    assert index.copies("road song one two three four five six")  # "[Verse 1]" is no word of the example
    assert not index.copies("title road song one two three four five")  # nor "Title:"


def test_no_songs_is_an_error():
    with pytest.raises(ValueError):
        songform_metrics([])


def test_distinct_2_of_written_lines_does_not_count_a_chorus_sung_again():
    once = "\n\n".join([VERSE_1, CHORUS, VERSE_2])
    again = songform_metrics([song(lyrics=SONG)]).distinct_2_written
    assert again == songform_metrics([song(lyrics=once)]).distinct_2_written
    looping = "\n\n".join(["Round and round we go tonight\nRound and round we go tonight"] * 2)
    assert songform_metrics([song(lyrics=looping)]).distinct_2_written < again
