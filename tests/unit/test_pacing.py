"""A bulk's pacing, the number's throughput and the rate a bulk actually sends at."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mindo_core.domain.errors import InvalidRequest
from mindo_core.throughput.pacing import (
    Pacing,
    bulk_rate_cap,
    check_cap,
    effective_rate,
    parse_pacing,
    throughput_for,
    tier_spacing_seconds,
)

# --------------------------------------------------------------------------------------------
# parse_pacing


@pytest.mark.parametrize("text", [None, "", "   ", "max", "MAX", " Max "])
def test_no_pacing_or_max_means_the_numbers_full_throughput(text: str | None) -> None:
    assert parse_pacing(text) == Pacing(mode="max")


@pytest.mark.parametrize("text", ["tier", "TIER", " Tier "])
def test_tier_pacing_is_read_in_any_case(text: str) -> None:
    assert parse_pacing(text) == Pacing(mode="tier")


@pytest.mark.parametrize(("text", "mps"), [("25", 25.0), ("0.5", 0.5), (" 12.5 ", 12.5)])
def test_a_number_is_a_messages_per_second_cap(text: str, mps: float) -> None:
    assert parse_pacing(text) == Pacing.cap(mps)


@pytest.mark.parametrize("text", ["fast", "0", "-3", "nan", "inf", "10 mps", "1e999"])
def test_anything_else_is_refused_naming_the_pacing_field(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_pacing(text)
    assert list(refused.value.field_errors) == ["pacing"]
    assert text.strip() in refused.value.message


@given(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_a_cap_reads_back_from_its_text(mps: float) -> None:
    assert parse_pacing(str(Pacing.cap(mps))) == Pacing.cap(mps)


@pytest.mark.parametrize("text", ["1e-300", "0.009", "80.5", "1000"])
def test_a_cap_outside_the_numbers_range_is_refused_with_the_range(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_cap(parse_pacing(text), throughput=80.0)
    assert list(refused.value.field_errors) == ["pacing"]
    assert "between 0.01 and 80" in refused.value.message


@pytest.mark.parametrize("text", ["0.01", "1", "80", "max", "tier"])
def test_a_cap_within_the_range_and_the_named_pacings_pass(text: str) -> None:
    assert check_cap(parse_pacing(text), throughput=80.0) == parse_pacing(text)


def test_whole_caps_print_without_a_decimal_point() -> None:
    assert str(Pacing.cap(25)) == "25"
    assert str(Pacing()) == "max"
    assert str(Pacing(mode="tier")) == "tier"


def test_a_pacing_value_refuses_inconsistent_fields() -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacing(mode="cap")
    with pytest.raises(ValueError, match="takes no mps"):
        Pacing(mode="max", mps=3.0)


# --------------------------------------------------------------------------------------------
# throughput_for


@pytest.mark.parametrize(
    ("level", "mps"),
    [("STANDARD", 80.0), ("HIGH", 1000.0), ("high", 1000.0), ("NOT_APPLICABLE", 80.0), ("", 80.0)],
)
def test_throughput_follows_metas_level(level: str, mps: float) -> None:
    assert throughput_for(level) == mps


def test_a_number_shared_with_the_business_app_is_fixed_at_20_mps() -> None:
    assert throughput_for("HIGH", shared_with_app=True) == 20.0
    assert throughput_for("STANDARD", shared_with_app=True) == 20.0


# --------------------------------------------------------------------------------------------
# tier spacing


@pytest.mark.parametrize(
    ("tier", "seconds"),
    [
        ("TIER_50", 1.2),
        ("TIER_250", 0.24),
        ("TIER_1000", 0.06),
        ("TIER_10000", 0.006),
        ("TIER_100000", 0.0006),
        ("TIER_UNLIMITED", 0.0),
    ],
)
def test_tier_spacing_is_mindos_documented_table(tier: str, seconds: float) -> None:
    assert tier_spacing_seconds(tier) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("tier", "seconds"),
    [
        ("TIER_1K", 0.06),
        ("TIER_2K", 0.03),
        ("TIER_10K", 0.006),
        ("TIER_100K", 0.0006),
        ("tier_2k", 0.03),
    ],
)
def test_metas_tier_names_follow_the_same_sixty_seconds_per_daily_limit(
    tier: str, seconds: float
) -> None:
    assert tier_spacing_seconds(tier) == pytest.approx(seconds)


@pytest.mark.parametrize("tier", ["TIER_NOT_SET", "", "TIER_0", "SOMETHING_NEW"])
def test_unset_or_unknown_tiers_pace_like_a_new_portfolio(tier: str) -> None:
    assert tier_spacing_seconds(tier) == pytest.approx(0.24)


# --------------------------------------------------------------------------------------------
# effective_rate


def test_max_pacing_sends_at_the_numbers_throughput() -> None:
    assert effective_rate(80.0, Pacing(), "TIER_250") == 80.0
    assert bulk_rate_cap(Pacing(), "TIER_250") is None


def test_tier_pacing_sends_at_the_documented_spacing() -> None:
    assert effective_rate(80.0, Pacing(mode="tier"), "TIER_250") == pytest.approx(1 / 0.24)
    assert effective_rate(80.0, Pacing(mode="tier"), "TIER_50") == pytest.approx(1 / 1.2)


def test_tier_pacing_never_exceeds_the_numbers_throughput() -> None:
    assert effective_rate(80.0, Pacing(mode="tier"), "TIER_10000") == 80.0
    assert effective_rate(20.0, Pacing(mode="tier"), "TIER_UNLIMITED") == 20.0
    assert bulk_rate_cap(Pacing(mode="tier"), "TIER_UNLIMITED") is None


def test_a_cap_below_the_throughput_is_the_rate() -> None:
    assert effective_rate(80.0, Pacing.cap(25), "TIER_250") == 25.0
    assert bulk_rate_cap(Pacing.cap(25), "TIER_250") == 25.0


@given(
    throughput=st.sampled_from([20.0, 80.0, 1000.0]),
    pacing=st.one_of(
        st.just(Pacing()),
        st.just(Pacing(mode="tier")),
        st.floats(min_value=0.01, max_value=1e5).map(Pacing.cap),
    ),
    tier=st.sampled_from(["TIER_50", "TIER_250", "TIER_2K", "TIER_10K", "TIER_UNLIMITED", "x"]),
)
def test_no_pacing_ever_goes_above_the_numbers_throughput(
    throughput: float, pacing: Pacing, tier: str
) -> None:
    rate = effective_rate(throughput, pacing, tier)
    assert 0 < rate <= throughput
    assert math.isfinite(rate)
