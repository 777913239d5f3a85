import numpy as np

from billion_songs.core import rng


def test_same_key_and_counter_give_the_same_numbers():
    keys = rng.stream_keys(np.array([0, 2**64 - 1], dtype=np.uint64), attempt=0)
    counters = np.array([[1, 2, 3], [1, 2, 3]], dtype=np.uint64)
    assert np.array_equal(rng.uniforms(keys, 5, counters), rng.uniforms(keys.copy(), 5, counters.copy()))


def test_numbers_depend_on_id_attempt_step_and_token():
    ids = np.array([7], dtype=np.uint64)
    token = np.array([[11]], dtype=np.uint64)
    base = rng.uniforms(rng.stream_keys(ids, 0), 0, token)
    assert base != rng.uniforms(rng.stream_keys(ids + np.uint64(1), 0), 0, token)
    assert base != rng.uniforms(rng.stream_keys(ids, 1), 0, token)
    assert base != rng.uniforms(rng.stream_keys(ids, 0), 1, token)
    assert base != rng.uniforms(rng.stream_keys(ids, 0), 0, token + np.uint64(1))


def test_uniforms_are_in_the_open_unit_interval_and_look_uniform():
    keys = rng.stream_keys(np.arange(2000, dtype=np.uint64), 0)
    u = rng.uniforms(keys, 3, np.tile(np.arange(50, dtype=np.uint64), (2000, 1)))
    assert u.min() > 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.std() - 0.2887) < 0.01


def test_a_row_does_not_depend_on_the_other_rows():
    ids = np.array([3, 9, 2**63], dtype=np.uint64)
    counters = np.tile(np.arange(4, dtype=np.uint64), (3, 1))
    together = rng.gumbel(rng.stream_keys(ids, 2), 8, counters)
    alone = rng.gumbel(rng.stream_keys(ids[1:2], 2), 8, counters[1:2])
    assert np.array_equal(together[1], alone[0])
