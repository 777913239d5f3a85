"""Billion Songs: every number from 0 to 2**64-1 is a song."""

__version__ = "0.1.0"
