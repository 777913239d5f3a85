"""The lyrics engine. Nothing in this package imports Django: the CLI, the web site and
the workers all drive it through `LyricsGenerator`."""
