"""The song contract as text checks, on words and songs written for these tests."""

from billion_songs.core.songwriting.checks import (
    form_problems,
    has_loop,
    is_archaic,
    is_clean_title,
    is_song_shaped,
    rhyming_lines,
    stanzas,
    title_in_lyrics,
)
from billion_songs.core.songwriting.rhyme import rhymes

VERSE_1 = "I left the porch light burning late\nThe kettle on the stove\nI counted every passing car\nAnd every road you drove"
CHORUS = "Porch light, shine across the rain\nShow me where you are\nPorch light, call them home again\nNo matter near or far"
VERSE_2 = "The morning found the window wet\nThe coffee going cold\nI kept the porch light burning still\nLike something I could hold"
SONG = "\n\n".join([VERSE_1, CHORUS, VERSE_2, CHORUS])


def test_a_song_with_verses_and_a_chorus_sung_twice_keeps_the_contract():
    assert form_problems("Porch Light", SONG) == []
    assert is_song_shaped("Porch Light", SONG)


def test_one_stanza_of_prose_breaks_it_in_every_way():
    problems = form_problems("_we with what they would", "Thou art not to be in my mind's love and " * 3)
    assert {"unclean_title", "too_short", "few_stanzas", "no_chorus", "prose_line", "archaic"} <= set(problems)


def test_word_pieces_in_song_shape_are_not_a_song():
    pieces = "\n\n".join(["Blorf quenth smaddle\nVintrop glask the ferble\nOskal murn tavvy\nGreeb the pollux"] * 4)
    assert "gibberish" in form_problems("Blorf Quenth", pieces)
    assert "gibberish" not in form_problems("Porch Light", SONG)


def test_titles():
    assert is_clean_title("Porch Light") and is_clean_title("Don't Go, Sally") and is_clean_title("1969")
    for broken in ("_", "_we with what they would", "BCEL'S WISDAMY!", "", "one two three four five six seven eight nine"):
        assert not is_clean_title(broken)
    assert title_in_lyrics("Porch Light", SONG)
    assert not title_in_lyrics("Kitchen Light", SONG)


def test_rhymes_by_the_cmu_dictionary():
    assert rhymes("late", "wait") and rhymes("stove", "drove") and rhymes("far", "are")
    assert not rhymes("night", "day") and not rhymes("home", "home")
    assert rhymes("Rain", "again")


def test_rhyming_lines_count_each_distinct_stanza_once():
    rhyming, total = rhyming_lines(SONG)
    assert total == 12  # the chorus sung again is not new evidence
    assert rhyming == 8  # stove/drove, cold/hold (XAXA verses) and rain/again, are/far (ABAB chorus)


def test_loops_and_archaic_words():
    assert has_loop(stanzas("I'm going, I'm going, I'm going, I'm going home\nand back"))
    assert has_loop(stanzas("la la la\nla la la\nla la la"))
    assert not has_loop(stanzas(SONG))
    assert is_archaic("Thou art my light") and is_archaic("The night hath come")
    assert not is_archaic("The art of leaving")
