"""The text format of a lyrics-tuned model (the original article's plan):

    <|startoftitle|>TITLE
    LYRICS...<|endoftext|>

Training data (prepare) and generation (prompts) both use these helpers, so the two can
never drift apart. The markers are special tokens: a lyric that happens to contain the
string "<|endoftext|>" is tokenized as ordinary text, never as the marker.
"""

START_OF_TITLE = "<|startoftitle|>"
END_OF_TEXT = "<|endoftext|>"
TITLE_SEPARATOR = "\n"  # the title is the first line after START_OF_TITLE


def training_text(title: str, lyrics: str) -> tuple[str, str, str]:
    """The three pieces of one training song: marker, plain text, marker. Callers tokenize
    the middle piece as plain text (special-token strings inside stay text) and the
    markers as their special token ids."""
    return START_OF_TITLE, f"{title}{TITLE_SEPARATOR}{lyrics}", END_OF_TEXT
