"""Several bulks on one number share its throughput fairly; a capped bulk leaves the rest."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mindo_core.throughput.fair_share import FairShare
from mindo_core.throughput.retry_policy import RetryPolicy
from mindo_core.throughput.scheduler import NumberScheduler, Slot


def number(throughput: float = 80.0) -> NumberScheduler[str]:
    return NumberScheduler(throughput_mps=throughput, retry_policy=RetryPolicy(random.Random(0)))


def run(scheduler: NumberScheduler[str], *, until: float, now: float = 0.0) -> list[Slot[str]]:
    """Send as fast as the scheduler allows, from ``now`` until ``until``."""
    slots: list[Slot[str]] = []
    while (slot := scheduler.next_send(now)) is not None and slot.at < until:
        scheduler.take(slot)
        slots.append(slot)
        now = slot.at
    return slots


def shares(slots: list[Slot[str]]) -> Counter[str]:
    return Counter(slot.bulk_id for slot in slots)


@given(bulks=st.integers(min_value=2, max_value=6), seconds=st.floats(min_value=0.01, max_value=3))
def test_equal_bulks_get_equal_shares_within_one_send(bulks: int, seconds: float) -> None:
    scheduler = number()
    names = [f"bulk-{i}" for i in range(bulks)]
    for name in names:
        scheduler.add_bulk(name)
    counts = shares(run(scheduler, until=seconds))
    assert max(counts[name] for name in names) - min(counts[name] for name in names) <= 1


def test_two_bulks_on_one_number_each_get_half_of_its_throughput() -> None:
    scheduler = number()
    scheduler.add_bulk("a")
    scheduler.add_bulk("b")
    counts = shares(run(scheduler, until=10.0))
    assert counts["a"] == pytest.approx(400, abs=5)
    assert counts["b"] == pytest.approx(400, abs=5)


def test_a_capped_bulk_leaves_the_rest_of_the_throughput_to_the_others() -> None:
    scheduler = number()
    scheduler.add_bulk("capped", max_rate=10.0)
    scheduler.add_bulk("free")
    counts = shares(run(scheduler, until=10.0))
    assert 99 <= counts["capped"] <= 101
    assert counts["free"] >= 0.97 * 800 - counts["capped"]


def test_a_capped_bulk_averages_its_pacing_and_never_bunches_up() -> None:
    scheduler = number()
    scheduler.add_bulk("capped", max_rate=10.0)
    scheduler.add_bulk("free")
    capped = [slot.at for slot in run(scheduler, until=5.0) if slot.bulk_id == "capped"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(capped)]
    assert min(gaps) >= 0.05  # never closer than half its spacing
    assert sum(gaps) / len(gaps) == pytest.approx(0.1, rel=0.01)
    assert all(later - earlier >= 1.0 for earlier, later in zip(capped, capped[11:], strict=False))


def test_a_bulk_that_joins_later_gets_its_share_from_then_on() -> None:
    scheduler = number()
    scheduler.add_bulk("early")
    before = run(scheduler, until=1.0)
    scheduler.add_bulk("late")
    after = run(scheduler, until=3.0, now=before[-1].at)
    assert set(shares(before)) == {"early"}
    counts = shares(after)
    assert abs(counts["early"] - counts["late"]) <= 1


def test_when_a_bulk_leaves_the_others_take_its_share() -> None:
    scheduler = number()
    for name in ("a", "b", "c"):
        scheduler.add_bulk(name)
    first = run(scheduler, until=1.0)
    scheduler.remove_bulk("b")
    rest = run(scheduler, until=3.0, now=first[-1].at)
    counts = shares(rest)
    assert "b" not in counts
    assert abs(counts["a"] - counts["c"]) <= 1


def test_a_held_bulk_sends_nothing_until_its_time_and_the_others_go_on() -> None:
    scheduler = number()
    scheduler.add_bulk("waiting")
    scheduler.add_bulk("busy")
    scheduler.hold_bulk("waiting", until=2.0)
    slots = run(scheduler, until=3.0)
    waiting = [slot.at for slot in slots if slot.bulk_id == "waiting"]
    assert waiting
    assert min(waiting) >= 2.0
    assert shares(slots)["busy"] > shares(slots)["waiting"]


def test_the_soonest_bulk_gets_the_slot_when_none_can_send_now() -> None:
    scheduler = number()
    scheduler.add_bulk("later")
    scheduler.add_bulk("sooner")
    scheduler.hold_bulk("later", until=9.0)
    scheduler.hold_bulk("sooner", until=4.0)
    assert scheduler.next_send(0.0) == Slot(bulk_id="sooner", at=4.0)


def test_nothing_to_send_when_every_bulk_waits_for_good_or_there_is_none() -> None:
    scheduler = number()
    assert scheduler.next_send(0.0) is None
    scheduler.add_bulk("a")
    scheduler.hold_bulk("a", until=math.inf)
    assert scheduler.next_send(0.0) is None
    scheduler.resume_bulk("a")
    assert scheduler.next_send(0.0) == Slot(bulk_id="a", at=0.0)


def test_a_bulk_cannot_join_twice_and_leaving_twice_is_harmless() -> None:
    share: FairShare[str] = FairShare()
    share.add("a")
    with pytest.raises(ValueError, match="already"):
        share.add("a")
    share.remove("a")
    share.remove("a")
    assert len(share) == 0
    assert "a" not in share


@given(
    script=st.lists(
        st.tuples(st.sampled_from(["add", "remove", "send"]), st.integers(0, 4)), max_size=60
    )
)
def test_bulks_join_and_leave_at_any_time_and_only_active_ones_send(
    script: list[tuple[str, int]],
) -> None:
    share: FairShare[int] = FairShare()
    now = 0.0
    for action, bulk in script:
        if action == "add" and bulk not in share:
            share.add(bulk)
        elif action == "remove":
            share.remove(bulk)
        elif action == "send":
            choice = share.choose(now)
            assert (choice is None) == (len(share) == 0)
            if choice is not None:
                assert choice[0] in share
                share.record(choice[0], choice[1])
        now += 0.01
