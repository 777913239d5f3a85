"""Two web processes asked for the same never-seen id at once: one generation, one
stored song, the same bytes for every visitor."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from tests.web.scale.conftest import OFFSET


def test_many_visitors_on_two_web_processes_get_one_generation(site_factory):
    site = site_factory(BILLION_SONGS_FAKE_LINE_DELAY="0.1")
    webs = [site.start_web(), site.start_web()]
    site.start_worker()
    site.start_worker()  # two workers, so that a duplicate task could find a free one
    song_id = 2**64 - 7
    paths = [f"/api/songs/{song_id}", f"/song/{song_id}"]

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda i: webs[i % 2].get(paths[i // 2 % 2]), range(12)))

    assert [status for status, _, _ in answers] == [200] * 12
    documents = [json.loads(body) for _, headers, body in answers if headers["content-type"] == "application/json"]
    for document in documents:
        document.pop("url")  # each web process names itself (its port)
    assert len(documents) == 6 and all(document == documents[0] for document in documents)
    song = documents[0]
    assert song["id"] == str(song_id) and song["ok"] and song["title"]
    pages = [body.decode() for _, headers, body in answers if headers["content-type"].startswith("text/html")]
    assert len(pages) == 6 and all(song["title"] in page for page in pages)

    assert site.sql("SELECT count(*) FROM songs_song WHERE id = %s", song_id - OFFSET) == [(1,)]
    redis = site.redis()
    assert redis.hget("bs:stats", "songs_written") == "1"
    events = [fields["type"] for _, fields in redis.xrange(f"bs:flight:{song_id}:events")]
    assert events.count("stored") == 1 and "restart" not in events and "broken" not in events
    # Every line of the song was streamed exactly once (a second writer would repeat them).
    assert events.count("delta") == len(f"{song['title']}\n\n{song['lyrics']}".split("\n"))
