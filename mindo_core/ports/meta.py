"""Meta's Graph API, or the sandbox that speaks its protocol (``adapters.meta``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mindo_core.domain.templates import JsonObject


@dataclass(frozen=True, kw_only=True)
class PhoneNumberInfo:
    """A phone number as read from Meta, before Mindo gives it an id."""

    phone_number_id: str
    display_phone_number: str
    verified_name: str
    quality_rating: str = "UNKNOWN"
    messaging_limit_tier: str = "TIER_250"
    throughput_level: str = "STANDARD"


@dataclass(frozen=True, kw_only=True)
class TemplateInfo:
    """A template as read from Meta (``GET /{waba_id}/message_templates``)."""

    meta_template_id: str
    name: str
    language: str
    status: str
    category: str
    parameter_format: str
    components: Sequence[JsonObject]


@dataclass(frozen=True, kw_only=True)
class MetaSendResult:
    wamid: str
    wa_id: str
    message_status: str | None = None


class MetaGateway(Protocol):
    """Meta's Graph API (or the sandbox). Errors come back as ``MetaError``/``MetaUnavailable``."""

    async def send_template(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        payload: Mapping[str, Any],
        max_seconds: float | None = None,
    ) -> MetaSendResult:
        """``max_seconds``: at most this many seconds for this call (a caller's deadline), within
        the gateway's own send timeout."""
        ...

    async def list_phone_numbers(
        self, *, waba_id: str, access_token: str
    ) -> Sequence[PhoneNumberInfo]:
        """Every page, followed to the end."""
        ...

    async def list_templates(self, *, waba_id: str, access_token: str) -> Sequence[TemplateInfo]:
        """Every page, followed to the end."""
        ...

    async def close(self) -> None: ...
