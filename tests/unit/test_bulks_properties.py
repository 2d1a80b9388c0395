"""Properties of the recipient state machine under any sequence of events, in any order."""

from __future__ import annotations

from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from mindo_core.bulks.model import (
    BulkCounters,
    IllegalTransition,
    RecipientEvent,
    RecipientState,
    advance,
)

EVENTS: tuple[RecipientEvent, ...] = get_args(RecipientEvent)
STATES: tuple[RecipientState, ...] = get_args(RecipientState)

# How far delivery got. Failed and read are final; nothing comes after them.
_PROGRESS: dict[RecipientState, int] = {"sent": 1, "delivered": 2, "read": 3}
_FINAL: frozenset[RecipientState] = frozenset({"read", "failed", "cancelled", "skipped"})


def apply(state: RecipientState, event: RecipientEvent) -> RecipientState:
    """What a careful caller does: an illegal event is logged and ignored."""
    try:
        return advance(state, event)
    except IllegalTransition:
        return state


@settings(max_examples=300)
@given(events=st.lists(st.sampled_from(EVENTS), max_size=30))
def test_delivery_never_moves_backwards_and_final_states_stay_final(
    events: list[RecipientEvent],
) -> None:
    state: RecipientState = "pending"
    for event in events:
        after = apply(state, event)
        if state in _PROGRESS and after in _PROGRESS:
            assert _PROGRESS[after] >= _PROGRESS[state], f"{state} -> {after} on {event}"
        if state in _PROGRESS:
            assert after in _PROGRESS or after == "failed", f"{state} -> {after} on {event}"
        if state in _FINAL:
            assert after == state, f"{state} is final but became {after} on {event}"
        state = after


@given(
    state=st.sampled_from(STATES),
    event=st.sampled_from([e for e in EVENTS if e != "claim"]),
)
def test_an_event_repeated_is_a_no_op(state: RecipientState, event: RecipientEvent) -> None:
    """Webhooks and workers may repeat themselves. Not claims: see the next test."""
    try:
        once = advance(state, event)
    except IllegalTransition:
        return
    assert advance(once, event) == once


@given(state=st.sampled_from(STATES), event=st.sampled_from(EVENTS))
def test_nothing_is_ever_sent_twice(state: RecipientState, event: RecipientEvent) -> None:
    """Only a pending recipient can be claimed for sending; any other claim is refused."""
    try:
        after = advance(state, event)
    except IllegalTransition:
        assert state != "pending" or event != "claim"
        return
    if event == "claim":
        assert (state, after) == ("pending", "in_flight")


@settings(max_examples=200)
@given(
    moves=st.lists(
        st.tuples(st.integers(min_value=0, max_value=4), st.sampled_from(EVENTS)), max_size=40
    )
)
def test_incremental_counters_always_equal_a_recount(
    moves: list[tuple[int, RecipientEvent]],
) -> None:
    states: list[RecipientState] = ["pending"] * 5
    counters = BulkCounters.of_states(states)
    for who, event in moves:
        after = apply(states[who], event)
        counters = counters.moved(states[who], after)
        states[who] = after
        assert counters == BulkCounters.of_states(states)
        assert counters.sent + counters.failed + counters.pending + counters.cancelled == 5
        assert counters.read <= counters.delivered <= counters.sent
