"""The Billion Songs web site: a Django project (config/) and its apps (songs/, accounts/).

Views never touch the model: they ask the runtime's flights (the stored song, or one
generation per id streamed while it is written) and `RandomSongs` (the pool)."""
