"""An accepted send: what status webhooks report on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mindo_sandbox.config import PhoneNumberConfig, TemplateConfig


@dataclass(frozen=True, kw_only=True)
class AcceptedMessage:
    """A send Meta would deliver."""

    wamid: str
    phone_number: PhoneNumberConfig
    waba_id: str
    wa_id: str
    template: TemplateConfig
    payload: Mapping[str, Any]
    at: float


AcceptedListener = Callable[[AcceptedMessage], None]
