"""What the database layer tells the layers above it, without importing them."""

from django.dispatch import Signal

# Sent once a change of songs' visibility commits (services.songs_hide), with
# `song_ids` and `hidden`: the page cache purges their pages (http/page_cache.py), the
# runtime takes hidden ones out of the pool (runtime/web.py).
songs_visibility_changed = Signal()
