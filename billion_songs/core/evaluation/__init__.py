"""Evaluating a lyrics model: generated songs scored on form, variety, rhyme, artifacts and
copying, plus validation perplexity. One concept per module: metrics (text statistics of
songs), rhyme, memorization, perplexity, report (running it all for a model)."""
