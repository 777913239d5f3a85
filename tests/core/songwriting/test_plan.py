"""The song plan: a pure function of the id, always a song's shape."""

from billion_songs.core.song import Brief
from billion_songs.core.songwriting.plan import (
    CHORUS,
    FORMS,
    GENRES,
    MAX_WORDS,
    MIN_WORDS,
    MOODS,
    SCHEMES,
    brief_for,
    plan_song,
)

IDS = [0, 1, 2, 1000, 12345, 2**63, 2**64 - 1]


def test_the_plan_is_a_pure_function_of_the_id():
    assert [plan_song(i) for i in IDS] == [plan_song(i) for i in IDS]
    assert len({plan_song(i) for i in IDS}) == len(IDS)


def test_briefs_are_stable_across_releases():
    """The brief of an id is what its page shows and what Make Random narrows by: it must
    not move when code around it changes (golden values)."""
    assert brief_for(1000) == Brief(genre="sea shanty", mood="calm", topic="a soldier coming home",
                                    form="verse-chorus-bridge")
    assert brief_for(0).genre in GENRES and brief_for(0).mood in MOODS
    assert plan_song(1000).brief == brief_for(1000)


def test_every_plan_is_song_shaped():
    forms_seen = set()
    for song_id in range(2000):
        plan = plan_song(song_id)
        forms_seen.add(plan.brief.form)
        kinds = [s.kind for s in plan.sections]
        assert tuple(kinds) == FORMS[plan.brief.form]
        assert len(plan.sections) >= 3
        assert sum(len(s.lines) for s in plan.sections) >= 12
        choruses = [s for s in plan.sections if s.kind == CHORUS]
        assert len(choruses) >= 2
        first = plan.sections.index(choruses[0])
        assert choruses[0].sings is None and all(c.sings == first for c in choruses[1:])
        assert all(c.lines == choruses[0].lines for c in choruses)
        for section in plan.sections:
            assert section.scheme in SCHEMES[section.kind]
            assert 2 <= len(section.lines) <= 8
            for line in section.lines:
                assert MIN_WORDS <= line.min_words <= line.words <= line.max_words <= MAX_WORDS
        assert 2 <= plan.title_words <= 5
    assert forms_seen == set(FORMS)


def test_neighbouring_ids_ask_for_different_songs():
    moods = {brief_for(i).mood for i in range(50)}
    assert len(moods) > 10
