import pytest

from billion_songs.web.songs.data.ranking import wilson_lower_bound


def test_wilson_lower_bound_values():
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(1, 0) == pytest.approx(0.2065, abs=1e-4)
    assert wilson_lower_bound(900, 100) == pytest.approx(0.8797, abs=1e-3)
    assert wilson_lower_bound(0, 5) == 0.0


def test_one_lucky_vote_does_not_beat_900_up_100_down():
    assert wilson_lower_bound(900, 100) > wilson_lower_bound(1, 0)
    assert wilson_lower_bound(900, 100) > wilson_lower_bound(9, 1)  # same share, less evidence
    assert wilson_lower_bound(100, 0) > wilson_lower_bound(10, 0)
