from tests.model_fixtures import isolated_cache, tiny_gpt2_dir, tiny_lyrics_gpt2_dir  # noqa: F401
