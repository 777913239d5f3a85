"""The Billion Songs web site: a Django project (config/) and its apps (songs/).

Views never touch the model: they ask the runtime's `SongSource` (stored song, or a
single-flight generation streamed while it is written) and `RandomSongs` (the pool)."""
