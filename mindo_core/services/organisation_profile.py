"""An organisation's business profile: what GET /api/v1/business-info/ shows. Operators set it,
and every value is checked here before anything is stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mindo_core.domain.accounts import (
    COMPANY_SIZES,
    COMPANY_TYPES,
    CompanySize,
    OrganisationProfile,
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
    return replace(profile, **changes)  # type: ignore[arg-type]


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
