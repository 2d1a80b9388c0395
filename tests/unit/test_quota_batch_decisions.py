"""A batch of single sends' quota decisions (``decide_batch``) answers exactly as deciding each
send on its own would: room is worked out from the window's sorted times only when the window
might be full. Every entry of the window counts as read: a reused reading may hold entries that
expired since, and they count until the ledger reads again (a recipient messaged again in the
window is never missed); a refusal because of one says room frees now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.domain.errors import QuotaExceeded
from mindo_core.domain.tiers import QUOTA_WINDOW, TIER_UNLIMITED, Tier
from mindo_core.ports.quota import QuotaBook
from mindo_core.services.organisation_quota import QuotaReading, Verdict, decide_batch

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
RECIPIENTS = [f"3461100000{i}" for i in range(8)]


def one_at_a_time(reading: QuotaReading, wa_ids: list[str]) -> list[Verdict]:
    """The rule, send by send: a new recipient fits while the window's entries and what is owed
    stay under the limit; refused, room frees when the entry that must go leaves the window
    (not before now), or a full window from now when only owed recipients fill it."""
    limit = reading.tier.daily_limit
    times = sorted(reading.window.values())
    owed = set(reading.promised)
    verdicts = []
    for wa_id in wa_ids:
        in_window = wa_id in reading.window
        if not in_window and wa_id not in owed:
            taken = len(times) + len(owed)
            if limit is not None and taken >= limit:
                freeing = taken - limit
                frees_at = (
                    max(times[freeing] + QUOTA_WINDOW, NOW)
                    if freeing < len(times)
                    else NOW + QUOTA_WINDOW
                )
                refused = QuotaExceeded(frees_at=frees_at, now=reading.now)
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
    book = QuotaBook(
        window={wa_id: NOW - timedelta(minutes=age) for wa_id, age in window.items()},
        owed=promised,
    )
    reading = QuotaReading(tier=Tier.for_limit(limit), book=book, now=NOW)

    assert answers(decide_batch(reading, asking)) == answers(one_at_a_time(reading, asking))


def test_an_entry_expired_since_the_reading_still_counts_and_room_frees_now() -> None:
    expired = NOW - QUOTA_WINDOW - timedelta(minutes=1)
    book = QuotaBook(
        window={RECIPIENTS[0]: expired, RECIPIENTS[1]: NOW - timedelta(hours=1)}, owed=set()
    )
    reading = QuotaReading(tier=Tier.for_limit(2), book=book, now=NOW)

    verdicts = decide_batch(reading, [RECIPIENTS[2]])

    assert answers(verdicts) == [(RECIPIENTS[2], NOW, False)]


def test_an_unlimited_tier_refuses_no_one() -> None:
    reading = QuotaReading(tier=TIER_UNLIMITED, book=QuotaBook(window={}, owed=set()), now=NOW)

    assert all(v.refused is None for v in decide_batch(reading, RECIPIENTS))
