"""The eval metrics on hand-made songs, where the right answer is known."""

import pytest

from billion_songs.core.evaluation.memorization import CorpusIndex
from billion_songs.core.evaluation.metrics import distinct_n, has_artifacts, is_degenerate, text_metrics
from billion_songs.core.evaluation.rhyme import count_rhymes, rhyme_density, rhymes
from billion_songs.core.song import Song


def song(title="A Song", lyrics="", ok=True, rejected=()):
    return Song(id=1, title=title, lyrics=lyrics, model_version="test", ok=ok, attempts=len(rejected) + 1,
                rejected=tuple(rejected))


COUPLETS = """I walked along the road tonight
Beneath the pale and silver light

The wind was cold, the air was thin
I heard the singing start within"""


def test_distinct_n_counts_unique_ngrams_over_all_songs_never_across_them():
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert distinct_n(["a b", "b a"], 2) == 1.0  # "b" + "b" is not a bigram across songs
    assert distinct_n(["la la la la la"], 3) == pytest.approx(1 / 3)
    assert distinct_n(["one"], 2) == 0.0


def test_a_song_is_degenerate_when_its_first_attempt_looped():
    assert is_degenerate(song(rejected=("repetition_loop",)))
    assert is_degenerate(song(rejected=("repeated_line", "too_short"), ok=False))
    assert not is_degenerate(song(rejected=("too_short", "repetition_loop")))  # first attempt: too short
    assert not is_degenerate(song())


def test_artifacts_are_chat_rejections_or_template_text_left_in_the_song():
    assert has_artifacts(song(rejected=("chat_artifact",)))
    assert has_artifacts(song(lyrics="la la\n<|im_start|>assistant\nla"))
    assert has_artifacts(song(lyrics="Title: Road Song\nwe drive"))
    assert has_artifacts(song(title="[INST] write a song"))
    assert not has_artifacts(song(lyrics=COUPLETS))
    assert not has_artifacts(song(lyrics="the title of my heart\nis written in the rain"))


def test_text_metrics_of_a_small_set():
    songs = [
        song(lyrics=COUPLETS),
        song(title="", lyrics="[Chorus]\none two three\nfour five", rejected=("repetition_loop",)),
        song(lyrics="go go go go go go\ngo go go go go go", ok=False, rejected=("repeated_line",) * 3),
        song(lyrics="so here we are", rejected=("chat_artifact",)),
    ]
    metrics = text_metrics(songs)
    assert metrics.songs == 4
    assert metrics.degenerate == 0.5 and metrics.failed == 0.25
    assert metrics.lines_per_song == (4 + 2 + 2 + 1) / 4  # "[Chorus]" is a label, not a line
    assert metrics.words_per_line == pytest.approx((7 + 6 + 7 + 6 + 3 + 2 + 6 + 6 + 4) / 9)
    assert metrics.with_title == 0.75 and metrics.artifacts == 0.25
    assert metrics.rejections == {"chat_artifact": 1, "repeated_line": 3, "repetition_loop": 1}
    with pytest.raises(ValueError):
        text_metrics([])


def test_rhymes_come_from_the_cmu_dictionary():
    assert rhymes("tonight", "light") and rhymes("heart", "apart") and rhymes("thin", "within") and rhymes("rain", "again")
    assert not rhymes("road", "light")
    assert not rhymes("light", "light")  # the same word again is repetition, not rhyme
    assert not rhymes("qwzx", "light")  # unknown words never rhyme


def test_rhyme_density_of_known_schemes():
    assert count_rhymes(COUPLETS).density == 1.0  # AABB
    alternate = "the night is long\nI hear the rain\nI sing a song\nand start again"
    assert count_rhymes(alternate).density == 1.0  # ABAB
    ballad = "the sun came up\nover the hill\nI drank my coffee\nand sat still"
    assert count_rhymes(ballad).density == 0.5  # ABCB: two of four lines rhyme
    assert count_rhymes("one day\nthe cat\nwent home").density == 0.0
    unknown = count_rhymes("the night\nthe light\nthe zxqv")
    assert (unknown.rhyming, unknown.known) == (2, 2)  # the unknown last word is left out
    assert rhyme_density([COUPLETS, "one day\nthe cat\nwent home"]) == pytest.approx(4 / 7)


def test_memorization_is_a_run_of_eight_words_from_the_corpus():
    corpus = CorpusIndex.from_texts(["Shall I compare thee to a summer's day?\nThou art more lovely and more temperate"])
    assert corpus.copies("oh SHALL i compare thee, to a summer's day!")  # 8 words, case and commas aside
    assert corpus.copies("thee to a summer's day thou art more")  # runs across a line break count
    assert not corpus.copies("shall I compare thee to a winter's day")  # 7 in a row at most
    assert corpus.copied_share(["shall i compare thee to a summer's day", "something else entirely"]) == 0.5
