import json

from billion_songs.core.evaluation.melody import corpus_figures
from billion_songs.core.melody.copycheck import RUN, interval_hashes, shared_runs
from billion_songs.core.melody.model import load_model
from billion_songs.core.melody.version import DATA_SHA256, data_digest


def test_shipped_tables_are_the_ones_the_version_was_set_for():
    # New tables change tunes: bump MELODY_VERSION and DATA_SHA256 together.
    assert data_digest() == DATA_SHA256


def test_corpus_figures_are_shipped_for_the_eval():
    figures = corpus_figures()
    assert figures["tunes"] >= 500 and 0.3 < figures["stepwise"] < 0.7
    json.dumps(figures)


def test_copy_check_is_about_intervals_not_keys():
    tune = [60, 62, 64, 65, 67, 65, 64, 62, 60, 59, 60]
    assert interval_hashes(tune) == interval_hashes([p + 5 for p in tune])
    assert len(interval_hashes(tune)) == len(tune) - RUN
    # a plain scale up and down is in some folk tune; nine repeated notes too
    assert shared_runs([60, 62, 64, 65, 67, 69, 71, 72, 74]) + shared_runs([67] * 9) >= 1


def test_model_draws_only_allowed_degrees():
    model = load_model()
    for u in (0.001, 0.5, 0.999):
        assert model.draw(1, 0, 2, u, [0, 4, 7]) in (0, 4, 7)
