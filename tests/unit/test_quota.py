"""Tiers and the rolling 24-hour quota: what a bulk costs, what fits now, when the rest goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.domain.tiers import (
    DEFAULT_TIER,
    QUOTA_WINDOW,
    TIER_50,
    TIER_250,
    TIER_1000,
    TIER_2000,
    TIER_10000,
    TIER_100000,
    TIER_UNLIMITED,
    Tier,
    UnknownTier,
    parse_tier,
)
from mindo_core.ports.quota import QuotaBook
from mindo_core.quota.window import (
    NewRecipientRoom,
    new_recipient_room,
    plan_quota,
    quota_snapshot,
)

NOW = datetime(2025, 11, 16, 21, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


def wa_ids(count: int, prefix: str = "549111000") -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(count)]


# -- tiers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Mindo's documented spelling reads as itself.
        ("TIER_50", TIER_50),
        ("TIER_250", TIER_250),
        ("TIER_1000", TIER_1000),
        ("TIER_10000", TIER_10000),
        ("TIER_100000", TIER_100000),
        ("TIER_UNLIMITED", TIER_UNLIMITED),
        # Meta's spellings.
        ("TIER_1K", TIER_1000),
        ("TIER_2K", TIER_2000),
        ("TIER_10K", TIER_10000),
        ("TIER_100K", TIER_100000),
        ("TIER_NOT_SET", TIER_250),
        ("tier_2k", TIER_2000),
        (" TIER_250 ", TIER_250),
        # business_capability_update's integers.
        (250, TIER_250),
        (2000, TIER_2000),
        (10000, TIER_10000),
        (100000, TIER_100000),
        (-1, TIER_UNLIMITED),
        ("2000", TIER_2000),
        ("-1", TIER_UNLIMITED),
        # A level Meta may add later reads the same way.
        ("TIER_5K", Tier(name="TIER_5000", daily_limit=5000)),
    ],
)
def test_meta_and_mindo_tier_values_read_into_mindo_spelling(
    value: str | int, expected: Tier
) -> None:
    assert parse_tier(value) == expected


def test_tiers_have_their_documented_names_and_limits() -> None:
    assert [(t.name, t.daily_limit) for t in (TIER_50, TIER_250, TIER_1000, TIER_2000)] == [
        ("TIER_50", 50),
        ("TIER_250", 250),
        ("TIER_1000", 1000),
        ("TIER_2000", 2000),
    ]
    assert (TIER_10000.daily_limit, TIER_100000.daily_limit) == (10_000, 100_000)
    assert TIER_UNLIMITED.daily_limit is None
    assert TIER_UNLIMITED.is_unlimited
    assert not TIER_250.is_unlimited
    assert DEFAULT_TIER == TIER_250


@pytest.mark.parametrize("value", ["", "GREEN", "TIER_", "TIER_0", "TIER_-5", 0, -2, "TIER_1M"])
def test_values_that_are_no_tier_are_refused(value: str | int) -> None:
    with pytest.raises(UnknownTier):
        parse_tier(value)


# -- the snapshot the business-accounts listing shows -----------------------------------------


def test_snapshot_reproduces_the_documented_example() -> None:
    snapshot = quota_snapshot(TIER_1000, unique_sent_24h=45)
    assert snapshot.tier == "TIER_1000"
    assert snapshot.daily_limit == 1000
    assert snapshot.unique_sent_24h == 45
    assert snapshot.remaining == 955
    assert snapshot.usage_percentage == 4.5
    assert snapshot.can_send is True


def test_a_full_window_cannot_send_and_shows_100_percent() -> None:
    snapshot = quota_snapshot(TIER_250, unique_sent_24h=250)
    assert (snapshot.remaining, snapshot.usage_percentage, snapshot.can_send) == (0, 100.0, False)


def test_usage_is_floored_so_that_100_percent_means_full() -> None:
    snapshot = quota_snapshot(TIER_1000, unique_sent_24h=999)
    assert snapshot.usage_percentage == 99.9
    assert snapshot.can_send is True


def test_a_lowered_tier_shows_no_negative_remaining_and_usage_above_100() -> None:
    snapshot = quota_snapshot(TIER_250, unique_sent_24h=300)
    assert snapshot.remaining == 0
    assert snapshot.usage_percentage == 120.0
    assert snapshot.can_send is False


def test_an_unlimited_tier_always_has_room() -> None:
    snapshot = quota_snapshot(TIER_UNLIMITED, unique_sent_24h=1_000_000)
    assert (snapshot.daily_limit, snapshot.remaining) == (None, None)
    assert snapshot.usage_percentage == 0.0
    assert snapshot.can_send is True


# -- planning a bulk --------------------------------------------------------------------------


def test_plan_reproduces_the_documented_quota_info() -> None:
    in_window = wa_ids(3, prefix="549222000")
    plan = plan_quota(
        TIER_1000,
        already_messaged=set(in_window),
        window_entries=[NOW - HOUR] * 3,
        candidates=wa_ids(3),
        now=NOW,
    )
    assert (plan.can_send, plan.quota_needed, plan.quota_available, plan.quota_total) == (
        True,
        3,
        997,
        1000,
    )
    assert plan.tier == "TIER_1000"
    assert (plan.fits_now, plan.refill_times, plan.ready_at) == (3, (), None)


def test_recipients_already_messaged_in_the_window_need_no_quota() -> None:
    candidates = wa_ids(10)
    plan = plan_quota(
        TIER_50,
        already_messaged=set(candidates[:4]),
        window_entries=[NOW - HOUR] * 4,
        candidates=candidates,
        now=NOW,
    )
    assert plan.quota_needed == 6
    assert plan.quota_available == 46
    assert plan.already_in_window == 4
    assert plan.sendable_now == 10


def test_when_the_window_is_short_the_rest_waits_for_the_oldest_entries_to_expire() -> None:
    entries = [NOW - 20 * HOUR, NOW - 10 * HOUR, NOW - 5 * HOUR] + [NOW - HOUR] * 45
    plan = plan_quota(
        TIER_50,
        already_messaged=set(wa_ids(48, prefix="549222000")),
        window_entries=entries,
        candidates=wa_ids(5),
        now=NOW,
    )
    assert plan.can_send is False
    assert (plan.quota_needed, plan.quota_available, plan.fits_now) == (5, 2, 2)
    assert plan.refill_times == (NOW + 4 * HOUR, NOW + 14 * HOUR, NOW + 19 * HOUR)
    assert plan.waiting == 3
    assert plan.ready_at == NOW + 19 * HOUR
    assert plan.refill_offsets(NOW) == (4 * 3600.0, 14 * 3600.0, 19 * 3600.0)


def test_owed_recipients_take_their_slots_from_now_after_the_window_s_entries() -> None:
    plan = plan_quota(
        TIER_50,
        already_messaged={"549222000001"},
        window_entries=[NOW - 20 * HOUR],
        candidates=wa_ids(2),
        now=NOW,
        owed=49,  # other bulks' pending recipients, single sends in flight
    )
    assert (plan.quota_needed, plan.quota_available, plan.fits_now) == (2, 0, 0)
    # The window's entry frees the first slot; the next frees when the owed, sent now, expire.
    assert plan.refill_times == (NOW + 4 * HOUR, NOW + QUOTA_WINDOW)


def test_a_bulk_larger_than_the_limit_waits_for_its_own_sends_to_expire() -> None:
    plan = plan_quota(
        TIER_50, already_messaged=set(), window_entries=[], candidates=wa_ids(120), now=NOW
    )
    assert plan.fits_now == 50
    assert plan.refill_times == (NOW + QUOTA_WINDOW,) * 50 + (NOW + 2 * QUOTA_WINDOW,) * 20


def test_entries_that_left_the_window_are_ignored() -> None:
    plan = plan_quota(
        TIER_50,
        already_messaged=set(),
        window_entries=[NOW - QUOTA_WINDOW, NOW - 30 * HOUR, NOW - HOUR],
        candidates=wa_ids(1),
        now=NOW,
    )
    assert plan.quota_available == 49


def test_entries_may_come_in_any_order() -> None:
    shuffled = [NOW - 2 * HOUR, NOW - 23 * HOUR] + [NOW - HOUR] * 48
    plan = plan_quota(
        TIER_50, already_messaged=set(), window_entries=shuffled, candidates=wa_ids(1), now=NOW
    )
    assert plan.refill_times == (NOW + HOUR,)


def test_a_window_over_a_lowered_limit_must_drain_below_it_first() -> None:
    # 60 entries, a minute apart, against a limit lowered to 50.
    entries = [NOW - 23 * HOUR + i * timedelta(minutes=1) for i in range(60)]
    plan = plan_quota(
        TIER_50, already_messaged=set(), window_entries=entries, candidates=wa_ids(2), now=NOW
    )
    assert (plan.quota_available, plan.fits_now, plan.can_send) == (0, 0, False)
    # 11 entries must expire before the window holds fewer than 50.
    assert plan.refill_times == (entries[10] + QUOTA_WINDOW, entries[11] + QUOTA_WINDOW)


def test_an_unlimited_tier_fits_everything_now() -> None:
    plan = plan_quota(
        TIER_UNLIMITED,
        already_messaged={"5491110000000"},
        window_entries=[NOW] * 10,
        candidates=wa_ids(100_000),
        now=NOW,
    )
    assert (plan.quota_available, plan.quota_total, plan.can_send) == (None, None, True)
    assert plan.fits_now == plan.quota_needed == 99_999
    assert plan.refill_times == ()


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=12),
    ages_in_minutes=st.lists(st.integers(min_value=0, max_value=24 * 60 - 1), max_size=20),
    candidates=st.integers(min_value=0, max_value=40),
    owed=st.integers(min_value=0, max_value=15),
)
def test_following_the_plan_never_puts_more_than_the_limit_in_any_window(
    limit: int, ages_in_minutes: list[int], candidates: int, owed: int
) -> None:
    """``owed`` recipients (other bulks', single sends in flight) are sent now, beside it."""
    entries = sorted(NOW - timedelta(minutes=age) for age in ages_in_minutes)
    plan = plan_quota(
        Tier.for_limit(limit),
        already_messaged=set(),
        window_entries=entries,
        candidates=wa_ids(candidates),
        now=NOW,
        owed=owed,
    )
    assert plan.fits_now + plan.waiting == candidates
    assert list(plan.refill_times) == sorted(plan.refill_times)
    live = [t for t in entries if t > NOW - QUOTA_WINDOW]
    if plan.fits_now:
        assert len(live) + owed + plan.fits_now <= limit, "the ones sent now overfill it"
    sends = [NOW] * (owed + plan.fits_now) + list(plan.refill_times)
    timeline = entries + sends
    for when in plan.refill_times:
        earlier = [t for t in timeline if when - QUOTA_WINDOW < t < when]
        assert len(earlier) < limit, "a waiting recipient went into a full window"
    # ... and none waits longer than needed: one second earlier the window was still full.
    for when in plan.refill_times:
        before = when - timedelta(seconds=1)
        held = [t for t in timeline if before - QUOTA_WINDOW < t <= before and t < when]
        assert len(held) >= limit


# -- room for one new recipient (single sends) ------------------------------------------------


def test_a_new_recipient_fits_while_the_window_and_the_promised_leave_room() -> None:
    entries = [NOW - HOUR] * 47

    assert new_recipient_room(TIER_50, window_entries=entries, promised=2, now=NOW).fits
    full = new_recipient_room(TIER_50, window_entries=entries, promised=3, now=NOW)
    assert not full.fits


def test_room_frees_when_enough_entries_expire_to_cover_what_is_promised() -> None:
    # 50 entries an hour apart (the oldest 23.5 h ago) and 2 recipients promised to a bulk:
    # the first two expiries are theirs, the third frees a slot for a new recipient.
    entries = [NOW - timedelta(minutes=30) - i * HOUR / 3 for i in range(50)]
    oldest_first = sorted(entries)

    room = new_recipient_room(TIER_50, window_entries=entries, promised=2, now=NOW)

    assert room == NewRecipientRoom(fits=False, frees_at=oldest_first[2] + QUOTA_WINDOW)


def test_expired_entries_take_no_room_and_unlimited_always_fits() -> None:
    expired = [NOW - QUOTA_WINDOW] * 50

    assert new_recipient_room(TIER_50, window_entries=expired, promised=0, now=NOW).fits
    assert new_recipient_room(TIER_UNLIMITED, window_entries=[NOW] * 10**4, promised=10**6, now=NOW)


def test_when_promises_alone_fill_the_limit_room_frees_a_full_window_from_now_at_the_earliest() -> (
    None
):
    room = new_recipient_room(TIER_50, window_entries=[NOW - HOUR], promised=50, now=NOW)

    assert room == NewRecipientRoom(fits=False, frees_at=NOW + QUOTA_WINDOW)


@given(
    used=st.integers(min_value=0, max_value=120),
    promised=st.integers(min_value=0, max_value=120),
)
def test_the_snapshot_can_send_exactly_when_a_new_recipient_fits(used: int, promised: int) -> None:
    entries = [NOW - HOUR] * used

    snapshot = quota_snapshot(TIER_50, unique_sent_24h=used, promised=promised)
    room = new_recipient_room(TIER_50, window_entries=entries, promised=promised, now=NOW)

    assert snapshot.can_send == room.fits == (snapshot.room is not None and snapshot.room > 0)
    assert snapshot.unique_sent_24h == used
    # What the documentation defines, promises or not.
    assert snapshot.remaining == max(0, 50 - used)


def test_what_is_owed_and_already_in_the_window_is_not_promised() -> None:
    book = QuotaBook(window={"a": NOW - HOUR, "b": NOW - HOUR}, owed={"b", "c", "d"})

    assert book.owed_outside_window() == {"c", "d"}
