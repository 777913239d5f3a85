from billion_songs.core.guards import check_song
from billion_songs.core.postprocess import clean_song

GOOD_LYRICS = """[Verse 1]
The kettle sings a quiet tune
The window holds the morning moon
I count the cups we used to share
And leave a light on on the stair

[Chorus]
Come home, come home before the snow
The road is long but I will know"""


def test_chat_and_markdown_artifacts_are_removed_and_labels_normalised():
    raw = (" **Kettle Song**\n\nSure! Here's a song for you:\n```\n**Verse 1:**\nThe kettle sings a quiet tune\n"
           "<|im_start|>assistant\n(Chorus)\nCome home\nI hope you enjoy this song!")
    title, lyrics = clean_song(raw, complete=True)
    assert title == "Kettle Song"
    assert lyrics == "[Verse 1]\nThe kettle sings a quiet tune\n[Chorus]\nCome home"


def test_an_unfinished_song_ends_at_its_last_full_line():
    title, lyrics = clean_song("Title\nfirst line\nsecond line\nthird li", complete=False)
    assert lyrics == "first line\nsecond line"


def test_a_good_song_passes():
    assert check_song("Kettle Song", GOOD_LYRICS) is None


def test_empty_untitled_and_short_songs_are_rejected():
    assert check_song("T", "") == "empty"
    assert check_song("", GOOD_LYRICS) == "no_title"
    assert check_song("T", "one line\ntwo lines") == "too_short"


def test_the_half_trained_loop_is_rejected():
    loop = GOOD_LYRICS + "\nI'm going, I'm going, I'm going, I'm going, I'm going"
    assert check_song("T", loop) == "repetition_loop"
    same = GOOD_LYRICS + "\nround we go\nround we go\nround we go"
    assert check_song("T", same) == "repeated_line"


def test_prose_and_chat_are_rejected():
    prose = "\n".join(f"Verse {n} tells of a man who drives home at night and thinks about his long life "
                       f"and all the people he has loved, number {n}" for n in range(4))
    assert check_song("T", prose) == "prose"
    assert check_song("T", GOOD_LYRICS + "\nI hope you enjoyed these lyrics") == "chat_artifact"


def test_a_chorus_sung_twice_is_fine():
    assert check_song("T", GOOD_LYRICS + "\n\n[Chorus]\nCome home, come home before the snow\n"
                           "The road is long but I will know") is None


def test_a_verse_first_line_as_title_loses_its_trailing_comma():
    assert clean_song("Arcadae,\nline one\nline two", complete=True)[0] == "Arcadae"
    assert clean_song("To the woeful time of my day;\nline", complete=True)[0] == "To the woeful time of my day"
