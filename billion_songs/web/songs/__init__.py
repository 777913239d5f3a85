"""Songs: the stored songs and votes, the random pool, single-flight generation, pages."""
