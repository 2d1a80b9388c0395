"""Tenants and what they connect: organisations, WhatsApp Business accounts, phone numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NewType

OrganisationId = NewType("OrganisationId", int)
BusinessAccountId = NewType("BusinessAccountId", int)
PhoneNumberRowId = NewType("PhoneNumberRowId", int)


CompanySize = Literal["MICRO", "SMALL", "MEDIUM", "LARGE", "ENTERPRISE"]
COMPANY_SIZES: Mapping[CompanySize, str] = {
    "MICRO": "1-10 empleados (Micro)",
    "SMALL": "11-50 empleados (Pequeña)",
    "MEDIUM": "51-250 empleados (Mediana)",
    "LARGE": "251-1000 empleados (Grande)",
    "ENTERPRISE": "1000+ empleados (Corporativa)",
}
COMPANY_TYPES: frozenset[str] = frozenset({"ECOMMERCE", "CLINIC"})

# What the quality guard does when Meta reports a number's or a template's quality dropping:
# pause the organisation's bulks on it (the default: quality is what keeps a number sending),
# or carry on.
QualityPolicy = Literal["pause", "continue"]
QUALITY_POLICIES: tuple[QualityPolicy, ...] = ("pause", "continue")


def parse_quality_policy(text: str) -> QualityPolicy | None:
    """The policy ``text`` names (any case), or None when it names none."""
    wanted = text.strip().lower()
    return next((known for known in QUALITY_POLICIES if known == wanted), None)


# What becomes of a bulk recipient whose outcome is unknown (its call was under way when its
# worker died) once the webhooks say Meta most likely never received it
# (``bulks.unknown_outcomes``): failed, or sent once more.
UnknownOutcomePolicy = Literal["fail", "resend"]
UNKNOWN_OUTCOME_POLICIES: tuple[UnknownOutcomePolicy, ...] = ("fail", "resend")
UNKNOWN_OUTCOME_WINDOW_MINUTES = (1, 1440)  # the range an organisation may set


@dataclass(frozen=True, kw_only=True)
class OrganisationProfile:
    """What GET /api/v1/business-info/ shows of the business, and the organisation's settings;
    set with `mindo orgs update`."""

    email: str = ""
    phone: str = ""
    website: str = ""
    address: str = ""
    description: str = ""
    timezone: str = "UTC"
    company_size: CompanySize | None = None
    company_types: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    unknown_outcome_policy: UnknownOutcomePolicy = "fail"
    unknown_outcome_window_minutes: int = 10

    def to_json(self) -> dict[str, object]:
        return {
            "email": self.email,
            "phone": self.phone,
            "website": self.website,
            "address": self.address,
            "description": self.description,
            "timezone": self.timezone,
            "company_size": self.company_size,
            "company_types": list(self.company_types),
            "categories": list(self.categories),
            "unknown_outcome_policy": self.unknown_outcome_policy,
            "unknown_outcome_window_minutes": self.unknown_outcome_window_minutes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrganisationProfile:
        defaults = cls()
        size = data.get("company_size")
        return cls(
            email=str(data.get("email") or ""),
            phone=str(data.get("phone") or ""),
            website=str(data.get("website") or ""),
            address=str(data.get("address") or ""),
            description=str(data.get("description") or ""),
            timezone=str(data.get("timezone") or defaults.timezone),
            company_size=size if size in COMPANY_SIZES else None,
            company_types=tuple(str(t) for t in data.get("company_types") or ()),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            unknown_outcome_policy="resend"
            if data.get("unknown_outcome_policy") == "resend"
            else "fail",
            unknown_outcome_window_minutes=_window_minutes(
                data.get("unknown_outcome_window_minutes"),
                defaults.unknown_outcome_window_minutes,
            ),
        )


def _window_minutes(value: object, default: int) -> int:
    low, high = UNKNOWN_OUTCOME_WINDOW_MINUTES
    return value if isinstance(value, int) and low <= value <= high else default


@dataclass(frozen=True, kw_only=True)
class Organisation:
    id: OrganisationId
    name: str
    profile: OrganisationProfile = field(default_factory=OrganisationProfile)
    quality_policy: QualityPolicy = "pause"


@dataclass(frozen=True, kw_only=True)
class BusinessAccount:
    """A WhatsApp Business Account (WABA) connected by an organisation.

    The Meta access token is not part of this value: it is stored encrypted and only the
    gateway that calls Meta ever sees it in plain text (``CredentialStore``).
    """

    id: BusinessAccountId
    organisation_id: OrganisationId
    waba_id: str
    name: str


@dataclass(frozen=True, kw_only=True)
class PhoneNumber:
    """A business phone number as Meta describes it, with Mindo's internal id."""

    id: PhoneNumberRowId
    business_account_id: BusinessAccountId
    phone_number_id: str
    display_phone_number: str
    verified_name: str
    quality_rating: str = "UNKNOWN"
    messaging_limit_tier: str = "TIER_250"
    throughput_level: str = "STANDARD"
    is_primary: bool = False
