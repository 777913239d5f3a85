"""Reading lyrics CSVs: every edge case the issue lists has its own test. All CSV content is
made up here; no third-party lyrics."""

import csv

import pytest

from billion_songs.core.tuning.csv_songs import read_songs
from billion_songs.core.tuning.errors import PrepareError


def titles(result):
    return [song.title for song in result.songs]


# --------------------------------------------------------------------------------------
# Well-formed files


def test_quoted_multiline_fields(write_csv):
    path = write_csv('artist,title,lyrics\nAnn,First,"line one\nline two\n\nline four"\nBob,Second,"x\ny"\n')
    result = read_songs(path)
    assert [(s.title, s.lyrics) for s in result.songs] == [
        ("First", "line one\nline two\n\nline four"),
        ("Second", "x\ny"),
    ]
    assert [s.line for s in result.songs] == [2, 6]  # the physical line each row starts on
    assert result.rows_read == 2 and result.bad_rows == []


def test_crlf_line_endings(write_csv):
    path = write_csv('title,lyrics\r\nOne,"a\r\nb"\r\nTwo,c\r\n')
    result = read_songs(path)
    assert [(s.title, s.lyrics) for s in result.songs] == [("One", "a\r\nb"), ("Two", "c")]
    assert [s.line for s in result.songs] == [2, 4]


def test_lf_line_endings(write_csv):
    path = write_csv('title,lyrics\nOne,"a\nb"\nTwo,c')  # no newline at the very end either
    result = read_songs(path)
    assert [(s.title, s.lyrics) for s in result.songs] == [("One", "a\nb"), ("Two", "c")]


def test_cr_only_line_endings(write_csv):
    path = write_csv("title,lyrics\rOne,a\rTwo,b\r")
    assert [(s.title, s.lyrics, s.line) for s in read_songs(path).songs] == [("One", "a", 2), ("Two", "b", 3)]


def test_utf8_byte_order_mark_is_not_part_of_the_first_column_name(write_csv):
    path = write_csv(b"\xef\xbb\xbftitle,lyrics\r\nOne,la la\r\n")
    result = read_songs(path)
    assert result.columns.title == "title"
    assert [(s.title, s.lyrics) for s in result.songs] == [("One", "la la")]


def test_embedded_doubled_quotes(write_csv):
    path = write_csv('title,lyrics\n"She said ""hi""","""Hello,"" she sang\nand ""bye"""\n')
    song = read_songs(path).songs[0]
    assert song.title == 'She said "hi"'
    assert song.lyrics == '"Hello," she sang\nand "bye"'


def test_quote_inside_an_unquoted_field_is_text(write_csv):
    path = write_csv('title,lyrics\n12" single,spinning at 45\n')
    assert read_songs(path).songs[0].title == '12" single'


def test_unicode_text(write_csv):
    lyrics = "Ça va, señor? Grüße — 夜明け 🌅\nΚαλημέρα"
    path = write_csv(f'title,lyrics\nCafé Ünïcode,"{lyrics}"\n')
    song = read_songs(path).songs[0]
    assert (song.title, song.lyrics) == ("Café Ünïcode", lyrics)


def test_field_far_larger_than_the_csv_default_limit(write_csv):
    default_limit = csv.field_size_limit()
    huge = ("la " * 100_000 + "\n") * 3  # 900,003 characters, 7x csv's 131072 default
    path = write_csv(f'title,lyrics\nBig,"{huge}"\nSmall,tiny\n')
    result = read_songs(path)
    assert [len(s.lyrics) for s in result.songs] == [len(huge), 4]
    assert csv.field_size_limit() == default_limit  # the process-wide limit is put back


def test_extra_columns_are_ignored(write_csv):
    path = write_csv("id,artist,title,year,lyrics,link,genre\n1,Ann,One,1999,words here,http://x,pop\n")
    result = read_songs(path)
    assert [(s.title, s.lyrics) for s in result.songs] == [("One", "words here")]
    assert result.columns.found == ("id", "artist", "title", "year", "lyrics", "link", "genre")


def test_trailing_empty_fields_are_tolerated(write_csv):
    path = write_csv("title,lyrics\nOne,words,,\n")
    result = read_songs(path)
    assert titles(result) == ["One"] and result.bad_rows == []


def test_blank_lines_between_rows_are_not_rows(write_csv):
    path = write_csv("title,lyrics\n\nOne,a\n   \n\nTwo,b\n\n")
    result = read_songs(path)
    assert titles(result) == ["One", "Two"]
    assert result.rows_read == 2 and result.bad_rows == []


def test_row_of_empty_fields_is_a_row(write_csv):
    path = write_csv("title,lyrics\n,\nOne,a\n")
    result = read_songs(path)
    assert [(s.title, s.lyrics) for s in result.songs] == [("", ""), ("One", "a")]  # cleaning drops it
    assert result.rows_read == 2


@pytest.mark.parametrize(
    ("header", "delimiter"), [("title;lyrics", ";"), ("title\tlyrics", "\t"), ("title|lyrics", "|")]
)
def test_delimiter_is_detected_from_the_header(write_csv, header, delimiter):
    path = write_csv(f"{header}\nOne{delimiter}hello, world\n")
    result = read_songs(path)
    assert result.delimiter == delimiter
    assert [(s.title, s.lyrics) for s in result.songs] == [("One", "hello, world")]


# --------------------------------------------------------------------------------------
# Columns


@pytest.mark.parametrize("lyrics_name", ["lyrics", "Lyrics", "TEXT", "lyric", " Lyric "])
@pytest.mark.parametrize("title_name", ["title", "Title", "SONG", "Song_Name", "song name", "name"])
def test_typical_column_names_are_detected_in_any_case(write_csv, lyrics_name, title_name):
    path = write_csv(f"artist,{title_name},{lyrics_name}\nAnn,One,words\n")
    result = read_songs(path)
    assert [(s.title, s.lyrics) for s in result.songs] == [("One", "words")]
    assert result.columns.lyrics == lyrics_name.strip()


def test_title_is_preferred_over_name(write_csv):
    # Kaggle-style files often have both an artist "name" and a song "title".
    path = write_csv("name,title,text\nAnn,One,words\n")
    result = read_songs(path)
    assert (result.columns.title, result.columns.lyrics) == ("title", "text")


def test_named_columns_override_detection(write_csv):
    path = write_csv("title,alt_title,lyrics,clean_lyrics\nA,B,raw,clean\n")
    result = read_songs(path, title_column="alt_title", lyrics_column="CLEAN_LYRICS")
    assert [(s.title, s.lyrics) for s in result.songs] == [("B", "clean")]


def test_missing_columns_error_names_them_and_the_columns_found(write_csv):
    path = write_csv("artist,year,words\nAnn,1999,la\n")
    with pytest.raises(PrepareError) as error:
        read_songs(path)
    message = str(error.value)
    assert "lyrics column" in message and "title column" in message  # both missing, one message
    assert "'artist', 'year', 'words'" in message
    assert "--lyrics-column" in message


def test_named_column_that_does_not_exist(write_csv):
    path = write_csv("title,lyrics\nOne,la\n")
    with pytest.raises(
        PrepareError, match=r"missing lyrics column 'words'\. The header has: 'title', 'lyrics'"
    ):
        read_songs(path, lyrics_column="words")


def test_text_file_that_is_not_a_csv(write_csv):
    path = write_csv("Just a poem\nwith two lines\n")
    with pytest.raises(PrepareError, match="single column: is this really a CSV file"):
        read_songs(path)


def test_same_column_for_title_and_lyrics_is_refused(write_csv):
    path = write_csv("title,lyrics\nOne,la\n")
    with pytest.raises(PrepareError, match="must differ"):
        read_songs(path, title_column="lyrics", lyrics_column="lyrics")


# --------------------------------------------------------------------------------------
# Malformed rows: reported with their line, counted, never merged, never fatal


def test_row_with_too_few_fields(write_csv):
    path = write_csv('artist,title,lyrics\nAnn,One,"a\nb"\nBob,Two\nCid,Three,c\n')
    result = read_songs(path)
    assert [(s.title, s.lyrics) for s in result.songs] == [("One", "a\nb"), ("Three", "c")]
    assert [(b.line, b.end_line, b.reason) for b in result.bad_rows] == [(4, 4, "expected 3 fields, found 2")]
    assert result.rows_read == 3


def test_row_with_too_many_fields(write_csv):
    path = write_csv("title,lyrics\nOne,a\nTwo,b,extra\nThree,c\n")
    result = read_songs(path)
    assert titles(result) == ["One", "Three"]
    assert [(b.line, b.reason) for b in result.bad_rows] == [(3, "expected 2 fields, found 3")]


def test_unclosed_quote_does_not_swallow_the_next_songs(write_csv):
    path = write_csv(
        "artist,title,lyrics\n"
        'Ann,Good,"fine\nlines"\n'  # lines 2-3
        'Bob,Broken,"never closed\n'  # line 4: its quote is closed by the next row's
        "second line\n"  # 5
        "\n"  # 6
        "fourth line\n"  # 7
        'Cid,Next,"next song\nstill next"\n'  # 8-9
        "Dee,Last,plain\n"  # 10
    )
    result = read_songs(path)
    assert [(s.title, s.lyrics, s.line) for s in result.songs] == [
        ("Good", "fine\nlines", 2),
        ("Next", "next song\nstill next", 8),
        ("Last", "plain", 10),
    ]
    [bad] = result.bad_rows
    assert (bad.line, bad.end_line, bad.where()) == (4, 7, "lines 4-7")
    assert "quote" in bad.reason
    assert result.rows_read == 4  # Good, Broken, Next, Last


def test_unclosed_quote_right_before_the_next_row(write_csv):
    path = write_csv('title,lyrics\nOne,"no end\nTwo,"two\nlines"\nThree,three\n')
    result = read_songs(path)
    assert [(s.title, s.lyrics) for s in result.songs] == [("Two", "two\nlines"), ("Three", "three")]
    assert [(b.line, b.end_line) for b in result.bad_rows] == [(2, 2)]


def test_unclosed_quote_running_to_the_end_of_the_file(write_csv):
    path = write_csv('title,lyrics\nOne,fine\nTwo,"opened\nnever\n\nclosed\n')
    result = read_songs(path)
    assert [(s.title, s.lyrics) for s in result.songs] == [("One", "fine")]
    [bad] = result.bad_rows
    assert (bad.line, bad.end_line) == (3, 6)
    assert bad.reason == "unclosed quote: the quoted field never ends"
    assert result.rows_read == 2


def test_unclosed_quote_in_a_file_of_one_line_songs_keeps_the_rows_after_it(write_csv):
    path = write_csv('title,lyrics\nOne,"Quoth the raven\nTwo,plain\nThree,also plain\nFour,"quoted, fine"\n')
    result = read_songs(path)
    assert titles(result) == ["Two", "Three", "Four"]
    assert [(b.line, b.end_line) for b in result.bad_rows] == [(2, 2)]


def test_quote_inside_the_unclosed_lyrics_stays_part_of_the_bad_row(write_csv):
    path = write_csv('title,lyrics\nOne,"open\nshe said "hi" twice\nTwo,two\n')
    result = read_songs(path)
    assert titles(result) == ["Two"]
    assert [b.where() for b in result.bad_rows] == ["lines 2-3"]


def test_two_unclosed_quotes_in_a_row_are_two_bad_rows(write_csv):
    path = write_csv('title,lyrics\nOne,"open\nTwo,"also open\nThree,three\n')
    result = read_songs(path)
    assert titles(result) == ["Three"]
    assert [b.where() for b in result.bad_rows] == ["line 2", "line 3"]
    assert result.rows_read == 3


def test_text_after_a_closing_quote(write_csv):
    path = write_csv('title,lyrics\nOne,"quoted" tail\nTwo,b\n')
    result = read_songs(path)
    assert titles(result) == ["Two"]
    assert [(b.line, b.reason) for b in result.bad_rows] == [
        (2, "unclosed or stray quote: text follows a closing quote")
    ]


def test_several_bad_rows_are_each_counted(write_csv):
    path = write_csv('title,lyrics\nA\nB,b\nC\nD,"open\nmore of D\nE,e\n')
    result = read_songs(path)
    assert titles(result) == ["B", "E"]  # E is a well-formed row after D's unclosed quote
    assert [b.where() for b in result.bad_rows] == ["line 2", "line 4", "lines 5-6"]
    assert result.rows_read == 5


def test_broken_header_is_an_error(write_csv):
    path = write_csv('"title,lyrics\nOne,a\n')
    with pytest.raises(PrepareError, match="header"):
        read_songs(path)


# --------------------------------------------------------------------------------------
# Files that are not CSVs


def test_missing_file(tmp_path):
    with pytest.raises(PrepareError, match="no such file"):
        read_songs(tmp_path / "nope.csv")


def test_directory_instead_of_a_file(tmp_path):
    with pytest.raises(PrepareError, match="not a file"):
        read_songs(tmp_path)


def test_empty_file(write_csv):
    with pytest.raises(PrepareError, match="is empty"):
        read_songs(write_csv(b""))


def test_blank_file(write_csv):
    with pytest.raises(PrepareError, match="is empty: no header row"):
        read_songs(write_csv(b"\xef\xbb\xbf\n  \r\n\n"))


def test_binary_file(write_csv):
    with pytest.raises(PrepareError, match="binary"):
        read_songs(write_csv(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256))))


def test_utf16_file(write_csv):
    with pytest.raises(PrepareError, match="UTF-16"):
        read_songs(write_csv("title,lyrics\nOne,a\n".encode("utf-16")))


def test_file_in_another_encoding_names_the_line_and_the_option(write_csv):
    path = write_csv("title,lyrics\nOne,a\nCaf\u00e9,b\n".encode("cp1252"))
    with pytest.raises(PrepareError, match=r"not utf-8 text \(undecodable byte at line 3\).*--encoding"):
        read_songs(path)
    assert titles(read_songs(path, encoding="cp1252")) == ["One", "Café"]


def test_unknown_encoding(write_csv):
    with pytest.raises(PrepareError, match="unknown encoding"):
        read_songs(write_csv("title,lyrics\n"), encoding="klingon")
