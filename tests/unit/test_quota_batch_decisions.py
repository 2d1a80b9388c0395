"""A batch of single sends' quota decisions (``decide_batch``) answers exactly as deciding each
send on its own against the live window would: room is worked out from the window's sorted
times only when the window might be full, and entries already expired never take room."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.domain.errors import QuotaExceeded
from mindo_core.domain.tiers import QUOTA_WINDOW, TIER_UNLIMITED, Tier
from mindo_core.quota.window import new_recipient_room
from mindo_core.services.organisation_quota import QuotaReading, Verdict, decide_batch

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
RECIPIENTS = [f"3461100000{i}" for i in range(8)]


def one_at_a_time(reading: QuotaReading, wa_ids: list[str]) -> list[Verdict]:
    """The rule, send by send: the room of a new recipient is what the live window and what is
    owed leave (``new_recipient_room``)."""
    owed = set(reading.promised)
    verdicts = []
    for wa_id in wa_ids:
        in_window = wa_id in reading.window
        if not in_window and wa_id not in owed:
            room = new_recipient_room(
                reading.tier,
                window_entries=list(reading.window.values()),
                promised=len(owed),
                now=reading.now,
            )
            if not room.fits:
                assert room.frees_at is not None
                refused = QuotaExceeded(frees_at=room.frees_at, now=reading.now)
                verdicts.append(Verdict(wa_id, refused, reserves=False))
                continue
            owed.add(wa_id)
        verdicts.append(Verdict(wa_id, None, reserves=not in_window))
    return verdicts


def answers(verdicts: list[Verdict]) -> list[tuple[str, datetime | None, bool]]:
    return [
        (v.wa_id, None if v.refused is None else v.refused.frees_at, v.reserves) for v in verdicts
    ]


ages = st.integers(min_value=1, max_value=26 * 60)  # minutes ago: some beyond the 24 hours


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=6),
    window=st.dictionaries(st.sampled_from(RECIPIENTS), ages, max_size=8),
    promised=st.sets(st.sampled_from(RECIPIENTS), max_size=3),
    asking=st.lists(st.sampled_from(RECIPIENTS), max_size=8),
)
def test_a_batch_answers_as_each_send_decided_alone(
    limit: int, window: dict[str, int], promised: set[str], asking: list[str]
) -> None:
    reading = QuotaReading(
        tier=Tier.for_limit(limit),
        window={wa_id: NOW - timedelta(minutes=age) for wa_id, age in window.items()},
        promised=promised - window.keys(),
        now=NOW,
    )

    assert answers(decide_batch(reading, asking)) == answers(one_at_a_time(reading, asking))


def test_expired_entries_leave_their_room_even_when_the_window_holds_the_limit() -> None:
    expired = NOW - QUOTA_WINDOW - timedelta(minutes=1)
    reading = QuotaReading(
        tier=Tier.for_limit(2),
        window={RECIPIENTS[0]: expired, RECIPIENTS[1]: NOW - timedelta(hours=1)},
        promised=set(),
        now=NOW,
    )

    verdicts = decide_batch(reading, [RECIPIENTS[2], RECIPIENTS[3]])

    assert answers(verdicts) == [
        (RECIPIENTS[2], None, True),
        (RECIPIENTS[3], NOW - timedelta(hours=1) + QUOTA_WINDOW, False),
    ]


def test_an_unlimited_tier_refuses_no_one() -> None:
    reading = QuotaReading(tier=TIER_UNLIMITED, window={}, promised=set(), now=NOW)

    assert all(v.refused is None for v in decide_batch(reading, RECIPIENTS))
