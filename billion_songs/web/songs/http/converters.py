"""The <song_id:...> URL part: exactly one spelling per id, so one permalink per song."""

from billion_songs.core.song import InvalidSongId, parse_song_id


class SongIdConverter:
    regex = "[0-9]{1,20}"

    def to_python(self, value: str) -> int:
        try:
            return parse_song_id(value)
        except InvalidSongId as error:  # out of range or leading zeros: no match, a 404
            raise ValueError(str(error)) from error

    def to_url(self, value: int) -> str:
        return str(parse_song_id(value))
