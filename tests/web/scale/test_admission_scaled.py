"""Admission control in the scaled-out shape: the per-client and site-wide caps hold in
Redis, the Celery queue never holds more generate tasks than the bound, and a worker
drops the queued songs whose visitors left. Real processes: `billion-songs serve`
behind a trusted proxy (the visitors' addresses come in X-Forwarded-For), a private
Redis, PostgreSQL and a Celery worker started only once the queue is full."""

from __future__ import annotations

import json

from tests.support.waiting import wait_for
from tests.web.scale.conftest import OFFSET
from tests.web.visitors import Visitor, visit


def test_the_celery_queue_is_bounded_and_songs_nobody_waits_for_are_not_written(site_factory):
    site = site_factory(BILLION_SONGS_FAKE_LINE_DELAY="0.1", BILLION_SONGS_NEW_SONGS_QUEUE="3",
                        BILLION_SONGS_NEW_SONGS_PER_CLIENT="2", BILLION_SONGS_NEW_SONGS_RETRY_AFTER="9",
                        BILLION_SONGS_TRUSTED_PROXIES="127.0.0.1")
    web = site.start_web()
    redis = site.redis()
    ids = [2**63 + n for n in range(10)]

    def ask(song_id: int, client: str, path: str = "/song/") -> Visitor:
        return Visitor(web.url, f"{path}{song_id}", forwarded_for=client, timeout=90)

    kept, left = ask(ids[0], "10.0.0.1"), ask(ids[1], "10.0.0.1")
    too_many = ask(ids[2], "10.0.0.1")
    assert (kept.status, left.status, too_many.status) == (200, 200, 429)
    assert too_many.headers["retry-after"] == "9" and b'href="/random"' in too_many.read()
    other = ask(ids[3], "10.0.0.2")
    full = ask(ids[4], "10.0.0.3")
    api_full = ask(ids[5], "10.0.0.4", path="/api/songs/")
    assert (other.status, full.status, api_full.status) == (200, 503, 503)
    assert json.loads(api_full.read())["retry_after"] == 9 and full.headers["retry-after"] == "9"
    # No worker yet: exactly the bound sits in the Celery queue.
    assert redis.llen("songs") == 3 and redis.zcard("bs:flight:queued") == 3

    left.leave()
    other.leave()
    site.start_worker()
    page = kept.read().decode()
    assert "could not be written" not in page and "</html>" in page
    wait_for(lambda: redis.llen("songs") == 0 and redis.zcard("bs:flight:queued") == 0, timeout=60,
             what="the queue drained")
    stored = {row[0] + OFFSET for row in site.sql("SELECT id FROM songs_song WHERE id = ANY(%s)",
                                                  [song_id - OFFSET for song_id in ids])}
    assert stored == {ids[0]}, site.logs()
    assert redis.hget("bs:stats", "songs_written") == "1"

    # A song dropped for want of visitors is written when someone asks again.
    status, _, body = visit(web.url, f"/api/songs/{ids[1]}", forwarded_for="10.0.0.1", timeout=90)
    assert status == 200 and json.loads(body)["id"] == str(ids[1])
