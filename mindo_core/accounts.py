"""Tenants and what they connect: organisations, WhatsApp Business accounts, phone numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

OrganisationId = NewType("OrganisationId", int)
BusinessAccountId = NewType("BusinessAccountId", int)
PhoneNumberRowId = NewType("PhoneNumberRowId", int)


@dataclass(frozen=True, kw_only=True)
class Organisation:
    id: OrganisationId
    name: str


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
