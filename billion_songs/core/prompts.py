"""What the model is asked, per song id.

Attributes (genre, mood, topic, form) are drawn from a hash of the id, not from id modulo
a list length, so neighbouring ids ask for very different songs. Lyrics-tuned models need
no instruction: their prompt is the <|startoftitle|> marker and the sampling noise keyed by
the id does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from billion_songs.core.lyrics_format import START_OF_TITLE
from billion_songs.core.rng import derive

GENRES = (
    "country", "folk", "blues", "rock", "pop", "soul", "gospel", "punk", "indie", "jazz",
    "synth-pop", "bluegrass", "reggae", "hip-hop", "disco", "metal", "lullaby", "sea shanty",
    "ballad", "grunge", "funk", "R&B", "cowboy", "dream-pop",
)
MOODS = (
    "sad", "joyful", "angry", "hopeful", "lonely", "playful", "nostalgic", "defiant",
    "tender", "restless", "bittersweet", "triumphant", "dreamy", "haunting", "lazy",
    "desperate", "grateful", "mysterious", "romantic", "furious", "calm", "wistful",
    "proud", "silly",
)
TOPICS = (
    "a night train leaving town", "a first kiss at a county fair", "a broken radio",
    "the last day of summer", "a dog who waits by the door", "leaving home for the city",
    "a lighthouse keeper", "rain on a tin roof", "an old friend's wedding", "a road trip west",
    "a lost letter", "working the night shift", "a storm at sea", "a small-town diner",
    "a grandmother's kitchen", "moving on after a breakup", "a campfire under the stars",
    "a factory closing down", "the first snow of winter", "dancing alone in the kitchen",
    "a river that floods every spring", "a secret kept too long", "a stolen guitar",
    "waking up in a strange city", "the moon over the desert", "a fisherman's daughter",
    "a phone call at midnight", "an empty stadium", "a garden after the rain",
    "the morning after a party", "a soldier coming home", "a carnival that left town",
    "a rooftop in July", "a mother's lullaby", "a long drive at dawn", "a house by the sea",
    "a coffee shop romance", "the end of the world", "a runaway horse", "a train station goodbye",
    "a wildfire on the hills", "children playing in the street", "a prison cell window",
    "a wedding ring in the river", "a ghost in the attic", "an astronaut far from home",
    "a jukebox in a bar", "the smell of rain", "a paper boat", "a bridge between two towns",
    "growing old together", "a city that never sleeps", "a snowed-in cabin", "a kite in the wind",
    "a church bell on Sunday", "a drifter with no name", "the neon lights of Main Street",
    "a letter from the war", "an apple orchard", "a broken-down truck", "the northern lights",
    "a late bus home", "a sunflower field", "a gambler's last hand",
)
FORMS = (
    "two verses and a chorus", "three short verses", "a verse, a chorus and a bridge",
    "four verses that tell a story",
)
SYSTEM_PROMPT = (
    "You are a songwriter. You answer with song lyrics only: a title on the first line, then "
    "short lines in stanzas, with a blank line between stanzas. No comments, no explanations."
)
# A one-shot example, written for this project: a 135M-parameter model copies the shape of
# an example far better than it follows a description of one.
EXAMPLE_REQUEST = "Write a hopeful folk song about a paper boat, with two verses and a chorus."
EXAMPLE_SONG = """Title: Paper Boat

[Verse 1]
I folded up the morning news
And set it on the stream
It carried all my yesterdays
And one unfinished dream

[Chorus]
Sail on, little paper boat
Past the mill and the stone
Sail on, little paper boat
Till you find your way home

[Verse 2]
The river bends, the river sings
The willows lean to see
A little ship of printed words
Still sailing out to sea"""


def _pick(song_id: int, purpose: str, options: tuple[str, ...]) -> str:
    return options[derive(song_id, purpose) % len(options)]


@dataclass(frozen=True)
class SongBrief:
    genre: str
    mood: str
    topic: str
    form: str

    @classmethod
    def for_id(cls, song_id: int) -> "SongBrief":
        return cls(
            genre=_pick(song_id, "genre", GENRES),
            mood=_pick(song_id, "mood", MOODS),
            topic=_pick(song_id, "topic", TOPICS),
            form=_pick(song_id, "form", FORMS),
        )


def prompt_parts(song_id: int, style: str) -> tuple[str, str]:
    """The prompt as (shared prefix, this song's part), special tokens spelled out.

    The shared prefix is the same for every id, so the generator computes its keys and
    values once and starts every batch from them.
    """
    if style == "lyrics":
        return "", START_OF_TITLE
    brief = SongBrief.for_id(song_id)
    request = f"Write a {brief.mood} {brief.genre} song about {brief.topic}, with {brief.form}."
    if style == "chatml":
        # The assistant turn is pre-filled with "Title:" so the model starts with the song
        # itself, never with "Sure! Here's a song...".
        shared = (
            f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
            f"<|im_start|>user\n{EXAMPLE_REQUEST}<|im_end|>\n"
            f"<|im_start|>assistant\n{EXAMPLE_SONG}<|im_end|>\n"
        )
        return shared, f"<|im_start|>user\n{request}<|im_end|>\n<|im_start|>assistant\nTitle:"
    if style == "plain":
        return "Song lyrics.", f" A {brief.mood} {brief.genre} song about {brief.topic}.\n\nTitle:"
    raise ValueError(f"unknown prompt style {style!r}")


def encode(text: str, tokenizer) -> list[int]:
    """Token ids of prompt text. The prompt is ours, so its special-token strings are meant
    as special tokens (the tokenizer maps added tokens such as <|im_start|> to their ids)."""
    return tokenizer.encode(text, add_special_tokens=False).ids if text else []
