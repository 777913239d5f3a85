"""The pace of refusals for visitors back before their Retry-After (songs/http/refusal_pace.py),
on a clock the test moves."""

from __future__ import annotations

import asyncio

import pytest

from billion_songs.web.songs.http import refusal_pace
from billion_songs.web.songs.http.refusal_pace import RefusalPace


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_first_refusal_and_one_after_the_retry_after_are_not_held():
    clock = Clock()
    pace = RefusalPace(per_second=10, held_at_most=100, clock=clock)
    assert pace.wait_for("198.51.100.1") == 0  # never refused before
    pace.told("198.51.100.1", 5)
    clock.now += 5  # came back when told
    assert pace.wait_for("198.51.100.1") == 0
    pace.told("198.51.100.1", 5)
    assert pace.wait_for("198.51.100.2") == 0  # someone else's first


def test_visitors_back_early_share_the_slots_a_gap_apart():
    clock = Clock()
    pace = RefusalPace(per_second=10, held_at_most=100, clock=clock)
    pace.told("198.51.100.1", 5)
    pace.told("198.51.100.2", 5)
    clock.now += 1
    waits = [pace.wait_for(client) for client in ("198.51.100.1", "198.51.100.2", "198.51.100.1")]
    assert waits == pytest.approx([0.0, 0.1, 0.2])
    clock.now += 0.15  # the slots already given stay given
    assert pace.wait_for("198.51.100.1") == pytest.approx(0.15)
    clock.now += 10  # the slots went by: the next early one goes at once (once told again)
    assert pace.wait_for("198.51.100.1") == 0
    pace.told("198.51.100.1", 5)
    assert pace.wait_for("198.51.100.1") == 0 and pace.wait_for("198.51.100.1") == pytest.approx(0.1)


def test_no_pacing_when_switched_off():
    clock = Clock()
    pace = RefusalPace(per_second=0, held_at_most=100, clock=clock)
    pace.told("198.51.100.1", 5)
    assert [pace.wait_for("198.51.100.1") for _ in range(3)] == [0, 0, 0]


def test_past_the_cap_of_refusals_held_the_next_is_answered_at_once():
    pace = RefusalPace(per_second=2, held_at_most=2)
    pace.told("198.51.100.1", 60)
    finished: list[int] = []

    async def refuse(n: int) -> None:
        await pace.refusing("198.51.100.1", 60)
        finished.append(n)

    async def four_at_once() -> None:
        tasks = [asyncio.create_task(refuse(n)) for n in range(4)]
        for _ in range(5):
            await asyncio.sleep(0)
        # The first took the slot now; the second and third wait 0.5 and 1 s, held; the
        # fourth found two held and went at once.
        assert finished == [0, 3] and pace.held == 2
        await asyncio.gather(*tasks)
        assert finished == [0, 3, 1, 2] and pace.held == 0

    asyncio.run(four_at_once())


def test_the_visitors_remembered_are_bounded(monkeypatch):
    monkeypatch.setattr(refusal_pace, "_REMEMBERED", 3)
    clock = Clock()
    pace = RefusalPace(per_second=10, held_at_most=100, clock=clock)
    for n in range(4):
        pace.told(f"198.51.100.{n}", 60)
    pace.told("198.51.100.1", 60)  # told again: now the latest
    pace.told("198.51.100.9", 60)
    assert set(pace._told) == {"198.51.100.3", "198.51.100.1", "198.51.100.9"}
    assert pace.wait_for("198.51.100.0") == 0  # forgotten: a first refusal again
