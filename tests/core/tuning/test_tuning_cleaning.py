"""Whitespace clean-up and the empty / untitled / duplicate filter."""

import unicodedata

from billion_songs.core.tuning.cleaning import (
    DUPLICATE,
    EMPTY_LYRICS,
    NO_TITLE,
    clean_lyrics,
    clean_songs,
    clean_title,
)
from billion_songs.core.tuning.csv_songs import RawSong


def test_crlf_and_lone_cr_become_lf():
    assert clean_lyrics("a\r\nb\rc\nd") == "a\nb\nc\nd"


def test_trailing_spaces_are_stripped_but_indentation_kept():
    assert clean_lyrics("first   \n    indented\t\nlast \u00a0") == "first\n    indented\nlast"


def test_three_or_more_blank_lines_collapse_to_one_blank_line():
    text = "verse one\n\n\n\nverse two\n \n\t\n  \nverse three\n\nverse four"
    assert clean_lyrics(text) == "verse one\n\nverse two\n\nverse three\n\nverse four"


def test_crlf_blank_lines_collapse_too():
    assert clean_lyrics("a\r\n\r\n\r\n\r\nb") == "a\n\nb"


def test_leading_and_trailing_blank_lines_are_removed():
    assert clean_lyrics("\n\n  \n  la la\nla\n\n\n") == "la la\nla"


def test_control_characters_are_removed_and_unicode_is_composed():
    decomposed = unicodedata.normalize("NFD", "café")
    assert clean_lyrics(f"bell\x07 {decomposed}\x00!") == "bell café!"


def test_unicode_line_separators_become_newlines():
    assert clean_lyrics("a\u2028b\u2029c\x85d") == "a\nb\nc\nd"


def test_title_is_one_line_with_single_spaces():
    assert clean_title("  The\r\nLong \t Title\n ") == "The Long Title"


def test_clean_songs_drops_empty_untitled_and_duplicate_songs_and_counts_them():
    rows = [
        RawSong(2, "One", "la la\n"),
        RawSong(3, "Empty", " \n\r\n "),
        RawSong(4, "", "no title here"),
        RawSong(5, "Cover of One", "la la  \r\n\r\n"),  # the same lyrics once cleaned
        RawSong(6, "Two", "different"),
        RawSong(7, "Two again", "different"),
    ]
    kept, skipped = clean_songs(rows)
    assert [(s.line, s.title, s.lyrics) for s in kept] == [(2, "One", "la la"), (6, "Two", "different")]
    assert skipped == {EMPTY_LYRICS: 1, NO_TITLE: 1, DUPLICATE: 2}


def test_keep_untitled():
    kept, skipped = clean_songs([RawSong(2, "  ", "words")], keep_untitled=True)
    assert [(s.title, s.lyrics) for s in kept] == [("", "words")] and not skipped


def test_duplicates_are_exact_after_cleaning_only():
    kept, skipped = clean_songs([RawSong(2, "A", "Hello"), RawSong(3, "B", "hello")])
    assert len(kept) == 2 and not skipped  # case differs: not an exact duplicate
