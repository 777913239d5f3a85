"""kill -9 a worker in the middle of its work: nothing half-written is stored, and another
worker writes the same ids again."""

from __future__ import annotations

import html
import json
import threading
import time

from tests.support.waiting import wait_for
from tests.web.scale.conftest import OFFSET


def _stored(site, song_ids) -> int:
    return site.sql("SELECT count(*) FROM songs_song WHERE id = ANY(%s)", [i - OFFSET for i in song_ids])[0][0]


def test_a_batch_interrupted_by_kill_9_is_written_again_by_another_worker(site_factory):
    site = site_factory(BILLION_SONGS_FAKE_SONG_DELAY="1.0")  # a batch of 4 takes 4 s
    site.start_web()
    first = site.start_worker()
    redis = site.redis()
    lease = wait_for(lambda: redis.keys("bs:pool:batch:*:lease"), timeout=60, what="a batch being written")[0]
    batch_id = lease.split(":")[3]
    song_ids = [int(i) for i in redis.hget("bs:pool:batch-ids", batch_id).split(",")]
    time.sleep(1.5)  # into the batch
    first.kill9()

    assert _stored(site, song_ids) == 0  # the batch is stored in one transaction, at its end
    assert redis.hget("bs:stats", "batches_written") is None

    site.start_worker()
    # The broker hands the unacknowledged batch to the new worker after the visibility
    # timeout (6 s here), once the dead worker's lease (3 s) has expired.
    wait_for(lambda: _stored(site, song_ids) == len(song_ids), timeout=90, what="the batch written again")
    rows = site.sql("SELECT ok, in_pool, model_version FROM songs_song WHERE id = ANY(%s)",
                    [i - OFFSET for i in song_ids])
    assert rows == [(True, True, "fake-1")] * len(song_ids)
    wait_for(lambda: redis.hget("bs:pool:batch-ids", batch_id) is None, timeout=10, what="the batch's bookkeeping")
    assert all(redis.sismember("bs:pool:ids", str(song_id)) for song_id in song_ids)


def test_a_visitor_song_interrupted_by_kill_9_is_finished_by_another_worker(site_factory):
    site = site_factory(BILLION_SONGS_FAKE_LINE_DELAY="0.4", BILLION_SONGS_POOL_TARGET="0")
    web = site.start_web()
    first = site.start_worker()
    redis = site.redis()
    song_id = 987654321
    page = {}
    reader = threading.Thread(target=lambda: page.update(answer=web.get(f"/song/{song_id}", timeout=120)))
    reader.start()
    wait_for(lambda: redis.xlen(f"bs:flight:{song_id}:events") >= 3, timeout=60, what="the song half written")
    first.kill9()
    assert _stored(site, [song_id]) == 0

    site.start_worker()
    reader.join(120)
    status, _, body = page["answer"]
    status_api, _, document = web.get(f"/api/songs/{song_id}")
    assert status == 200 and status_api == 200
    events = [fields["type"] for _, fields in redis.xrange(f"bs:flight:{song_id}:events")]
    # The visitor's page dropped the dead worker's draft and shows the finished song.
    assert "restart" in events and events[-1] == "stored"
    assert b'id="draft-2"' in body and b"could not be written" not in body
    title = json.loads(document)["title"]
    assert html.escape(title).encode() in body.split(b'id="draft-2"')[1]
    assert _stored(site, [song_id]) == 1
