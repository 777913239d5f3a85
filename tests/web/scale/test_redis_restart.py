"""Redis restarted (it keeps nothing on disk): pages keep working from the database while
it is down, and the pool refills when it is back."""

from __future__ import annotations

import re

from tests.support.waiting import wait_for


def _pool_size(site) -> int:
    try:
        return site.redis().scard("bs:pool:ids")
    except Exception:
        return 0


def test_pages_work_while_redis_is_down_and_the_pool_refills_after(site_factory, redis_server):
    site = site_factory()
    web = site.start_web()
    site.start_worker()
    wait_for(lambda: _pool_size(site) >= 8, timeout=60, what="the pool filled")
    status, headers, _ = web.get("/random")
    assert status == 302
    pooled_path = headers["location"]
    status, _, page = web.get(pooled_path)
    assert status == 200

    redis_server.kill()

    status, _, again = web.get(pooled_path)  # the page cache is gone: rendered from the database
    assert status == 200 and again == page
    status, headers, _ = web.get("/random")  # the pool is gone: any stored song
    assert status == 302 and re.fullmatch(r"/song/\d+", headers["location"])
    assert web.get(headers["location"])[0] == 200
    assert web.get(pooled_path + "/me")[0] == 200  # vote counts from the database
    assert web.get("/top")[0] == 200

    redis_server.start()  # empty, as after any restart

    # The worker reconnects; the pool is restored from the database and topped up.
    wait_for(lambda: _pool_size(site) >= 8, timeout=90, what="the pool refilled")
    status, headers, _ = web.get("/random")
    assert status == 302
    # A never-seen id is written again by the worker, through the new Redis.
    status, _, document = web.get(f"/api/songs/{2**40 + 3}")
    assert status == 200 and b'"ok": true' in document
