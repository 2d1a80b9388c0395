"""An organisation's business profile (what GET /api/v1/business-info/ shows) and its settings
(what becomes of recipients whose outcome is unknown). Operators set them, and every value is
checked here before anything is stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mindo_core.domain.accounts import (
    COMPANY_SIZES,
    COMPANY_TYPES,
    UNKNOWN_OUTCOME_POLICIES,
    UNKNOWN_OUTCOME_WINDOW_MINUTES,
    CompanySize,
    OrganisationProfile,
    UnknownOutcomePolicy,
)
from mindo_core.domain.errors import InvalidRequest


def changed_profile(
    profile: OrganisationProfile,
    *,
    email: str | None = None,
    phone: str | None = None,
    website: str | None = None,
    address: str | None = None,
    description: str | None = None,
    timezone: str | None = None,
    company_size: str | None = None,
    company_types: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    unknown_outcome_policy: str | None = None,
    unknown_outcome_window_minutes: int | None = None,
) -> OrganisationProfile:
    """``profile`` with only what is given changed; ``InvalidRequest`` for a bad value."""
    texts = {"email": email, "phone": phone, "website": website, "address": address}
    changes: dict[str, object] = {k: v.strip() for k, v in texts.items() if v is not None}
    if description is not None:
        changes["description"] = description.strip()
    if timezone is not None:
        changes["timezone"] = _timezone(timezone)
    if company_size is not None:
        changes["company_size"] = _size(company_size)
    if company_types is not None:
        changes["company_types"] = _types(company_types)
    if categories is not None:
        changes["categories"] = tuple(c.strip() for c in categories if c.strip())
    if unknown_outcome_policy is not None:
        changes["unknown_outcome_policy"] = _unknown_policy(unknown_outcome_policy)
    if unknown_outcome_window_minutes is not None:
        changes["unknown_outcome_window_minutes"] = _window(unknown_outcome_window_minutes)
    return replace(profile, **changes)  # type: ignore[arg-type]


def _unknown_policy(policy: str) -> UnknownOutcomePolicy:
    for known in UNKNOWN_OUTCOME_POLICIES:
        if policy.strip().lower() == known:
            return known
    raise InvalidRequest.for_field(
        "unknown_outcome_policy", f"must be fail or resend, got {policy[:40]!r}"
    )


def _window(minutes: int) -> int:
    low, high = UNKNOWN_OUTCOME_WINDOW_MINUTES
    if not low <= minutes <= high:
        raise InvalidRequest.for_field(
            "unknown_outcome_window_minutes", f"must be {low} to {high} minutes, got {minutes}"
        )
    return minutes


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest.for_field(
            "timezone", f"{name!r} is not an IANA time zone (e.g. America/Argentina/Buenos_Aires)"
        ) from None
    return name


def _size(size: str) -> CompanySize | None:
    if not size:
        return None
    upper = size.upper()
    if upper not in COMPANY_SIZES:
        raise InvalidRequest.for_field(
            "company_size", f"{size!r} is not one of {', '.join(COMPANY_SIZES)}"
        )
    return cast(CompanySize, upper)


def _types(types: Sequence[str]) -> tuple[str, ...]:
    upper = tuple(t.strip().upper() for t in types if t.strip())
    unknown = [t for t in upper if t not in COMPANY_TYPES]
    if unknown:
        raise InvalidRequest.for_field(
            "company_types", f"unknown {unknown}; known: {', '.join(sorted(COMPANY_TYPES))}"
        )
    return upper
