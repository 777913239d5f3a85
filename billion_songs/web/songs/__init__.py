"""Songs: the stored songs and votes, the random pool, single-flight generation, pages.
Its layers, each importing only the ones below it: http -> runtime -> generation -> data
(the README's design section maps them; pyproject.toml's import-linter contracts hold them)."""
