"""What to do after each send: retry with jittered backoff, give up, or stop the bulk."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mindo_core.adapters.meta.errors import policy_for
from mindo_core.throughput.retry_policy import (
    RetryPolicy,
    RetrySettings,
    SendOutcome,
    outcome_for_meta_error,
)

TRANSIENT_CODES = [2, 4, 80007, 130429, 131000, 131016, 131057, 133004]
STOP_CODES = [0, 190, 368, 131031, 131042, 131045, 133010, 132015, 132016]
SLOWING_CODES = [130429, 131048, 80007]


class HighestDraw(random.Random):
    """A fake source of jitter that always draws the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


class LowestDraw(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def policy(rng: random.Random | None = None) -> RetryPolicy:
    return RetryPolicy(rng or random.Random(7))


def test_a_success_is_done() -> None:
    assert policy().decide(SendOutcome.ok(), 1).action == "done"


def test_backoff_bounds_double_with_each_attempt() -> None:
    retry = policy(HighestDraw())
    delays = [retry.decide(SendOutcome.transient(131000), n).delay for n in range(1, 5)]
    assert delays == [1.0, 2.0, 4.0, 8.0]


def test_the_backoff_bound_is_capped() -> None:
    retry = RetryPolicy(HighestDraw(), RetrySettings(max_attempts=20, max_delay_seconds=60.0))
    assert retry.decide(SendOutcome.transient(2), 12).delay == 60.0


@given(seed=st.integers(0, 2**32), attempt=st.integers(1, 4))
def test_jittered_delays_stay_within_zero_and_the_bound(seed: int, attempt: int) -> None:
    retry = policy(random.Random(seed))
    delay = retry.decide(SendOutcome.transient(None), attempt).delay
    assert 0.0 <= delay <= retry.backoff_bound(attempt)


def test_jitter_spreads_retries_of_the_same_attempt() -> None:
    retry = policy(random.Random(1))
    delays = {retry.decide(SendOutcome.transient(2), 4).delay for _ in range(20)}
    assert len(delays) == 20


def test_the_same_seed_gives_the_same_delays() -> None:
    first, second = policy(random.Random(3)), policy(random.Random(3))
    outcome = SendOutcome.transient(133004)
    assert [first.decide(outcome, n).delay for n in range(1, 5)] == [
        second.decide(outcome, n).delay for n in range(1, 5)
    ]


def test_attempts_are_bounded_and_the_last_code_is_recorded() -> None:
    retry = policy()
    outcome = SendOutcome.transient(131000, title="Something went wrong")
    actions = [retry.decide(outcome, n).action for n in range(1, 6)]
    assert actions == ["retry", "retry", "retry", "retry", "give_up"]
    final = retry.decide(outcome, 5)
    assert final.meta_code == 131000
    assert final.reason == "gave up after 5 attempts: Something went wrong"


def test_no_usable_answer_is_retried_and_explained_when_it_runs_out() -> None:
    retry = policy()
    assert retry.decide(SendOutcome.transient(None, title="refused"), 1).action == "retry"
    final = retry.decide(SendOutcome.transient(None), 5)
    assert (final.action, final.meta_code) == ("give_up", None)
    assert "no usable answer from Meta" in final.reason


def test_an_unknown_outcome_is_never_retried_whatever_the_attempt() -> None:
    retry = policy()
    outcome = SendOutcome.unknown(title="no answer before the timeout")
    decisions = [retry.decide(outcome, n) for n in (1, 2, 5)]
    assert {(d.action, d.reason) for d in decisions} == {
        ("unknown", "no answer before the timeout")
    }


def test_a_code_that_allows_one_retry_gets_one() -> None:
    retry = policy()
    outcome = outcome_for_meta_error(1, policy_for(1), title="Invalid request")
    assert [retry.decide(outcome, n).action for n in (1, 2)] == ["retry", "give_up"]


def test_maintenance_mode_waits_at_least_twenty_seconds() -> None:
    retry = policy(LowestDraw())
    assert retry.decide(SendOutcome.transient(131057), 1).delay == 20.0


def test_a_permanent_error_is_recorded_with_metas_code_and_text() -> None:
    decision = policy().decide(
        SendOutcome.permanent(132000, title="Number of parameters does not match"), 1
    )
    assert decision.action == "give_up"
    assert decision.meta_code == 132000
    assert decision.reason == "Number of parameters does not match"


@pytest.mark.parametrize("code", STOP_CODES)
def test_campaign_stopping_codes_stop_with_a_clear_reason(code: int) -> None:
    outcome = outcome_for_meta_error(code, policy_for(code), title="Meta's own words")
    decision = policy().decide(outcome, 1)
    assert decision.action == "stop"
    assert decision.meta_code == code
    assert decision.reason.startswith("Stopped: ")
    assert f"Meta error {code}: Meta's own words" in decision.reason


def test_stop_reasons_say_what_to_fix() -> None:
    decide = policy().decide
    assert "access token has expired" in decide(SendOutcome.stop(190), 1).reason
    assert "template is paused" in decide(SendOutcome.stop(132015), 1).reason
    assert "lacks an API permission" in decide(SendOutcome.stop(250), 1).reason


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="count from 1"):
        policy().decide(SendOutcome.transient(2), 0)


def test_at_least_one_attempt_is_allowed() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetrySettings(max_attempts=0)


# --------------------------------------------------------------------------------------------
# Classifying Meta's codes (the engine feeds the adapter's table through this)


@pytest.mark.parametrize("code", TRANSIENT_CODES)
def test_transient_codes_are_retried(code: int) -> None:
    outcome = outcome_for_meta_error(code, policy_for(code))
    assert outcome.kind in ("transient", "throttled")
    assert policy().decide(outcome, 1).action == "retry"


@pytest.mark.parametrize("code", SLOWING_CODES)
def test_throughput_codes_slow_the_number_down(code: int) -> None:
    assert outcome_for_meta_error(code, policy_for(code)).kind == "throttled"


def test_the_spam_rate_limit_slows_down_but_is_not_retried() -> None:
    outcome = outcome_for_meta_error(131048, policy_for(131048), title="Spam rate limit hit")
    assert (outcome.kind, outcome.retryable) == ("throttled", False)
    assert policy().decide(outcome, 1).action == "give_up"


def test_the_pair_rate_code_concerns_only_the_recipient() -> None:
    assert outcome_for_meta_error(131056, policy_for(131056)).kind == "pair_rate"


@pytest.mark.parametrize("code", [100, 131026, 132000, 131050, 999999])
def test_other_codes_are_permanent_for_the_recipient(code: int) -> None:
    assert outcome_for_meta_error(code, policy_for(code)).kind == "permanent"


@dataclass(frozen=True, kw_only=True)
class FakeCodePolicy:
    retryable: bool = False
    max_retries: int | None = None
    stops_campaign: bool = False
    slows_down: bool = False
    recipient_scoped: bool = False


def test_stopping_wins_over_every_other_flag() -> None:
    everything = FakeCodePolicy(
        retryable=True, stops_campaign=True, slows_down=True, recipient_scoped=True
    )
    assert outcome_for_meta_error(7, everything).kind == "stop"


def test_a_recipient_scoped_code_is_a_pair_rate_even_if_it_slows_down() -> None:
    scoped = FakeCodePolicy(retryable=True, slows_down=True, recipient_scoped=True)
    assert outcome_for_meta_error(131056, scoped).kind == "pair_rate"
