"""What the model is asked, per song id.

The brief (genre, mood, topic, form) comes from the song plan (songwriting/plan.py), drawn
from a hash of the id, not from id modulo a list length, so neighbouring ids ask for very
different songs. Lyrics-tuned models need no instruction: their prompt is the
<|startoftitle|> marker and the sampling noise keyed by the id does the rest.
"""

from __future__ import annotations


from billion_songs.core.lyrics_format import START_OF_TITLE
from billion_songs.core.song import Brief
from billion_songs.core.songwriting.plan import brief_for

SYSTEM_PROMPT = (
    "You are a songwriter. You answer with song lyrics only: a title on the first line, then "
    "short lines in stanzas, with a blank line between stanzas. No comments, no explanations."
)
# A one-shot example, written for this project: a 135M-parameter model copies the shape of
# an example far better than it follows a description of one.
EXAMPLE_REQUEST = "Write a hopeful folk song about a paper boat."
# The example shows the form the songwriting decoder holds every song to: labelled
# sections, lines that rhyme, a chorus that opens with the title. It is kept short: every
# row of every batch attends over it at every step. The decoder never lets a song copy
# four tokens in a row from it.
EXAMPLE_SONG = """Title: Paper Boat

[Verse 1]
I folded up the morning news
And set it on the stream
It carried all my yesterdays
And one unfinished dream

[Chorus]
Paper boat, go sailing on tonight
Past the mill and the old stone wall
Paper boat, you hold on tight
You are the bravest ship of all"""


def request(brief: Brief) -> str:
    """The instruction for one song, in words a small instruct model follows. The form is
    not in it: the decoder holds the song to its form, and a 135M model reads "a bridge"
    as the song's subject."""
    return f"Write a {brief.mood} {brief.genre} song about {brief.topic}."


# The prompt styles a model directory may name (ModelManifest.prompt_style).
PROMPT_STYLES = ("chatml", "lyrics", "plain")


def section_label(label: str, style: str) -> str:
    """How a section is announced in the model's text: "[Chorus]" where the prompt shows
    labels; nothing for lyrics-tuned models, whose training songs had none."""
    return "" if style == "lyrics" else f"[{label}]\n"


def prompt_parts(song_id: int, style: str) -> tuple[str, str]:
    """The prompt as (shared prefix, this song's part), special tokens spelled out.

    The shared prefix is the same for every id, so the generator computes its keys and
    values once and starts every batch from them.
    """
    if style == "lyrics":
        return "", START_OF_TITLE
    brief = brief_for(song_id)
    if style == "chatml":
        # The assistant turn is pre-filled with "Title:" so the model starts with the song
        # itself, never with "Sure! Here's a song...".
        shared = (
            f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
            f"<|im_start|>user\n{EXAMPLE_REQUEST}<|im_end|>\n"
            f"<|im_start|>assistant\n{EXAMPLE_SONG}<|im_end|>\n"
        )
        return shared, f"<|im_start|>user\n{request(brief)}<|im_end|>\n<|im_start|>assistant\nTitle:"
    if style == "plain":
        return "Song lyrics.", f" A {brief.mood} {brief.genre} song about {brief.topic}.\n\nTitle:"
    raise ValueError(f"unknown prompt style {style!r}")


def encode(text: str, tokenizer) -> list[int]:
    """Token ids of prompt text. The prompt is ours, so its special-token strings are meant
    as special tokens (the tokenizer maps added tokens such as <|im_start|> to their ids)."""
    return tokenizer.encode(text, add_special_tokens=False).ids if text else []
