"""The database layer: models, selectors (reads), services (writes), and the Redis
stores that cache what the database holds (vote counts)."""
