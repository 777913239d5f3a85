import random

from billion_songs.core.song import MAX_SONG_ID
from billion_songs.web.songs.data import selectors, services
from billion_songs.web.songs.data.models import SongTally, Vote
from billion_songs.web.songs.data import vote_counts
from tests.support.songs import store, users
from tests.web.songs.test_votes_concurrent import THREADS, run_together


def test_an_older_revision_never_overwrites_a_newer_one(redis_url):
    vote_counts.counts_set(song_id=3, up=5, down=1, revision=7)
    vote_counts.counts_set(song_id=3, up=4, down=1, revision=6)  # a late, older copy
    assert vote_counts.counts_get(song_id=3) == (5, 1)
    vote_counts.counts_set(song_id=3, up=5, down=2, revision=8)
    assert vote_counts.counts_get(song_id=3) == (5, 2)


def test_concurrent_votes_leave_the_cached_counts_equal_to_the_vote_rows(redis_url, transactional_db):
    store(MAX_SONG_ID)
    voters = users(THREADS)

    def vote_a_lot(i: int) -> None:
        rng = random.Random(i)
        for _ in range(8):
            services.vote_cast(user=voters[i], song_id=MAX_SONG_ID, value=rng.choice([1, -1, 0, 1]))

    run_together(vote_a_lot)
    up = Vote.objects.filter(song_id=MAX_SONG_ID, value=1).count()
    down = Vote.objects.filter(song_id=MAX_SONG_ID, value=-1).count()
    assert vote_counts.counts_get(song_id=MAX_SONG_ID) == (up, down)
    assert SongTally.objects.values_list("up", "down").get(song_id=MAX_SONG_ID) == (up, down)
    assert selectors.tally_mismatches() == []


def test_the_page_fragment_reads_the_counts_from_redis_and_fills_it_on_a_miss(redis_url, private_redis,
                                                                              transactional_db):
    store(4)
    (ann,) = users(1)
    services.vote_cast(user=ann, song_id=4, value=1)
    assert vote_counts.counts_get(song_id=4) == (1, 0)
    private_redis.client().delete(vote_counts.counts_key(4))  # evicted, or Redis restarted
    assert vote_counts.song_vote_summary(song_id=4, user=ann) == {"up": 1, "down": 0, "score": 1, "mine": 1}
    assert vote_counts.counts_get(song_id=4) == (1, 0)


def test_votes_are_counted_while_redis_is_down(unreachable_redis, db):
    store(4)
    (ann,) = users(1)
    services.vote_cast(user=ann, song_id=4, value=-1)
    assert vote_counts.song_vote_summary(song_id=4, user=ann) == {"up": 0, "down": 1, "score": -1, "mine": -1}
