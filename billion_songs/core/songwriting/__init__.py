"""Songwriting: the song plan drawn from an id, and the decoder that writes a song line by
line under that plan (form, rhyme, hook, modern words). See plan.py and decoder.py."""
