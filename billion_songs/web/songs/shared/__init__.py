"""The scaled-out counterparts of the in-process song machinery, shared through Redis by
any number of web processes and Celery workers (REDIS_URL set):

- `redis.py`: the clients (one connection pool per process, async clients per event loop)
  and a short circuit breaker, so a Redis outage costs a visitor nothing but freshness;
- `pool.py`: the random pool (`RedisSongPool`, the same seam as `songs.pool.SongPool`);
- `flights.py`: single-flight generation across processes: a request marker, a worker's
  lease with a heartbeat, and the song's events on a Redis stream (`RemoteSongSource`,
  the same seam as `songs.source.SongSource`);
- `votes.py`: the vote counts cache read by every song page's /me fragment.

Redis holds nothing that cannot be rebuilt: songs and votes live in the database, and
a restarted (empty) Redis is refilled from it.
"""
