"""Song form: how closely generated songs keep the song contract
(billion_songs.core.songwriting.checks), and whether they copy the prompt's example song.

Song shares are over songs. Line shares are over written lines: the lines of a song's
distinct stanzas, so a chorus sung three times is written once (as checks.rhyming_lines
counts them). Stanzas, titles, loops, archaic words, prose lines and rhyme are the
contract's own checks; this module only counts them.

The example song is the one-shot example of the chatml prompt (prompts.EXAMPLE_SONG, read
when measured): a song copies it when it holds a run of RUN_WORDS words of the example,
compared as memorization compares words (case and punctuation aside).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from billion_songs.core.evaluation.memorization import RUN_WORDS, CorpusIndex
from billion_songs.core.evaluation.metrics import distinct_n
from billion_songs.core import prompts
from billion_songs.core.guards import lyric_lines
from billion_songs.core.song import Song
from billion_songs.core.songwriting import checks

_TITLE_PREFIX = re.compile(r"^\s*title\s*:\s*", re.IGNORECASE)


def written_lines(lyrics: str) -> list[str]:
    """The lines of the lyrics' distinct stanzas, in order: a stanza sung again word for
    word (a chorus) is written once."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for stanza in checks.stanzas(lyrics):
        key = tuple(line.lower() for line in stanza)
        if key not in seen:
            seen.add(key)
            out.extend(stanza)
    return out


def example_text(example: str) -> str:
    """The sung words of an example song as the prompt spells it: "[Verse 1]" style labels
    and the "Title:" prefix are prompt format, not words a song could copy."""
    return "\n".join(_TITLE_PREFIX.sub("", line) for line in lyric_lines(example))


def example_index(example: str | None = None, run_words: int = RUN_WORDS) -> CorpusIndex:
    """The runs of `run_words` words of the example song (default: the chatml prompt's
    prompts.EXAMPLE_SONG as it is now)."""
    if example is None:

        example = prompts.EXAMPLE_SONG
    return CorpusIndex.from_texts([example_text(example)], run_words)


@dataclass(frozen=True)
class SongForm:
    songs: int
    written_lines: int  # lines of distinct stanzas, over all songs
    song_shaped: float  # share with >=12 lines, >=3 stanzas, a chorus repeated verbatim, no loop
    rhyming_lines: float  # share of written lines rhyming with a line end within 2 lines in their stanza
    clean_titles: float  # share whose title is 1 to 8 words with no stray punctuation
    title_in_lyrics: float  # share whose title's words appear together in a line of the lyrics
    archaic_lines: float  # share of written lines with an archaic word ("thou", "doth", ...)
    prose_lines: float  # share of written lines longer than checks.PROSE_WORDS words
    loops: float  # share with a loop: a phrase looping in a line, a line 3 times running, ...
    copies_example: float  # share with a run of run_words words of the prompt's example song
    # Distinct word bigrams / bigrams within each song's written lines, averaged over songs:
    # unlike the corpus-wide distinct-2 of whole lyrics, a chorus sung again and a longer
    # song (more bigrams, so more repeats of common ones) do not count against it.
    distinct_2_written: float
    run_words: int = RUN_WORDS

    def as_dict(self) -> dict:
        return asdict(self)


def songform_metrics(songs: Sequence[Song], *, example: CorpusIndex | None = None) -> SongForm:
    """The song-form statistics of `songs`; `example` defaults to example_index()."""
    if not songs:
        raise ValueError("no songs to measure")
    example = example if example is not None else example_index()
    n = len(songs)
    lines = [line for song in songs for line in written_lines(song.lyrics)]
    rhyming = sum(checks.rhyming_lines(song.lyrics)[0] for song in songs)
    share = lambda count: count / len(lines) if lines else 0.0  # noqa: E731
    return SongForm(
        songs=n,
        written_lines=len(lines),
        song_shaped=sum(checks.is_song_shaped(song.title, song.lyrics) for song in songs) / n,
        rhyming_lines=share(rhyming),
        clean_titles=sum(checks.is_clean_title(song.title) for song in songs) / n,
        title_in_lyrics=sum(checks.title_in_lyrics(song.title, song.lyrics) for song in songs) / n,
        archaic_lines=share(sum(map(checks.is_archaic, lines))),
        prose_lines=share(sum(map(checks.is_prose, lines))),
        loops=sum(checks.has_loop(checks.stanzas(song.lyrics)) for song in songs) / n,
        copies_example=example.copied_share([f"{song.title}\n{song.lyrics}" for song in songs]),
        distinct_2_written=sum(distinct_n(["\n".join(written_lines(song.lyrics))], 2) for song in songs) / n,
        run_words=example.run_words,
    )
