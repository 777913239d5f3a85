from billion_songs.core.melody.syllables import STRESSED, UNKNOWN, UNSTRESSED, line_syllables, line_text


def texts(line):
    return [s.text for s in line_syllables(line)]


def test_syllables_join_back_to_the_line_exactly():
    for line in ("Down by the river, where the water runs cold!", "I'm walking home beautiful   tonight",
                 "Every fire in the hour of our need?"):
        assert line_text(line_syllables(line)) == " ".join(line.split())


def test_cmu_syllable_counts_and_punctuation_stay_on_their_piece():
    assert texts("river,") == ["riv", "er,"] or texts("river,") == ["ri", "ver,"]
    assert len(texts("beautiful")) == 3
    assert texts("naked") == ["na", "ked"]  # CMU: two syllables, though pyphen keeps it whole
    assert texts("every") == ["ev", "ery"]  # of the CMU variants, the one pyphen agrees with


def test_stress_from_the_dictionary_and_weak_function_words():
    syllables = line_syllables("the river")
    assert [s.stress for s in syllables] == [UNSTRESSED, STRESSED, UNSTRESSED]
    assert [s.word_start for s in syllables] == [True, True, False]
    assert [s.word for s in syllables] == [0, 1, 1]


def test_unknown_words_fall_back_to_hyphenation_without_stress():
    syllables = line_syllables("zorblefrazzit")
    assert len(syllables) >= 2 and all(s.stress == UNKNOWN for s in syllables)
    assert "".join(s.text for s in syllables) == "zorblefrazzit"
