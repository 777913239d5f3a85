"""The one error type of the tuning pipeline."""


class PrepareError(Exception):
    """A problem with the user's input or options, with a message meant for them to read.

    The CLI prints the message and exits non-zero; it never shows a traceback for these."""
