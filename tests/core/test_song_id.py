import pytest

from billion_songs.core.song import MAX_SONG_ID, InvalidSongId, parse_song_id


@pytest.mark.parametrize("value, expected", [("0", 0), ("18446744073709551615", MAX_SONG_ID), (42, 42), (" 7 ", 7)])
def test_valid_ids(value, expected):
    assert parse_song_id(value) == expected


@pytest.mark.parametrize("value, message", [
    ("-1", "negative"), (-1, "negative"), ("18446744073709551616", "at most"), (2**64, "at most"),
    ("abc", "whole number"), ("1.5", "whole number"), ("1e3", "whole number"), ("", "whole number"),
    ("007", "leading zeros"), ("٣", "whole number"), (True, "whole number"),
])
def test_invalid_ids_say_what_is_wrong(value, message):
    with pytest.raises(InvalidSongId, match=message):
        parse_song_id(value)
