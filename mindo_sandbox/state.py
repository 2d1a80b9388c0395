"""The sandbox's live state: accounts, numbers and templates, limits, faults, the record, and
the webhook sender that reports on accepted sends.

Built from a ``SandboxConfig``; the admin API changes it at runtime (templates, a number's
throughput and quality, faults, webhooks). The hot path reads dicts prepared here, never the
config.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mindo_sandbox._json_reading import check_known_keys, opt_int, opt_str, req_str
from mindo_sandbox.accepted import AcceptedListener, AcceptedMessage
from mindo_sandbox.clock import Clock, SystemClock
from mindo_sandbox.config import PhoneNumberConfig, SandboxConfig, TemplateConfig, WabaConfig
from mindo_sandbox.faults import FaultConfig, FaultInjector
from mindo_sandbox.graph_errors import GraphError
from mindo_sandbox.rate_limits import PairRateLimiter, ThroughputLimiter
from mindo_sandbox.recording import RecordedRequest, Recorder
from mindo_sandbox.template_specs import TemplateSpec
from mindo_sandbox.wamids import WamidFactory
from mindo_sandbox.webhook_config import WebhookConfig
from mindo_sandbox.webhook_sender import WebhookSender

__all__ = ["AcceptedListener", "AcceptedMessage", "SandboxState", "TemplateEntry"]


@dataclass(frozen=True, kw_only=True)
class TemplateEntry:
    spec: TemplateSpec
    graph: Mapping[str, Any]  # the GET shape, built once

    @property
    def config(self) -> TemplateConfig:
        return self.spec.template


class SandboxState:
    def __init__(self, config: SandboxConfig, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.limits = config.limits
        self._wabas: dict[str, WabaConfig] = {w.waba_id: w for w in config.wabas}
        self._token_wabas: dict[str, frozenset[str]] = _token_index(config.wabas)
        self._numbers: dict[str, PhoneNumberConfig] = {}
        self._number_waba: dict[str, str] = {}
        self._templates: dict[str, dict[tuple[str, str], TemplateEntry]] = {}
        for waba in config.wabas:
            self._add_waba(waba)
        self.throughput = ThroughputLimiter(self.clock)
        self.pair_rate = PairRateLimiter(
            self.clock,
            capacity=config.limits.pair_capacity,
            refill_seconds=config.limits.pair_refill_seconds,
        )
        self.faults = FaultInjector(config.faults)
        self.recorder = Recorder(config.limits.max_recorded)
        self.wamids = WamidFactory()
        self.closing = asyncio.Event()
        self._accepted_listeners: list[AcceptedListener] = []
        self.webhooks = WebhookSender(config.webhooks, self.clock)
        self.subscribe_accepted(self.webhooks.on_accepted)

    def _add_waba(self, waba: WabaConfig) -> None:
        for number in waba.phone_numbers:
            self._numbers[number.id] = number
            self._number_waba[number.id] = waba.waba_id
        self._templates[waba.waba_id] = {(t.name, t.language): _entry(t) for t in waba.templates}

    # ----------------------------------------------------------------------------------------
    # Lookups (Graph's answers when they fail)

    def wabas_of_token(self, token: str | None) -> frozenset[str]:
        if not token:
            raise GraphError(190, "An access token is required to request this resource.")
        wabas = self._token_wabas.get(token)
        if wabas is None:
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        return wabas

    def owner_of(self, object_id: str) -> str | None:
        """The WABA an id belongs to (a WABA owns itself), or None when the id is unknown."""
        if object_id in self._wabas:
            return object_id
        return self._number_waba.get(object_id)

    def phone_number(self, phone_number_id: str) -> PhoneNumberConfig | None:
        return self._numbers.get(phone_number_id)

    def waba(self, waba_id: str) -> WabaConfig | None:
        return self._wabas.get(waba_id)

    def waba_ids(self) -> list[str]:
        return list(self._wabas)

    def phone_numbers_of(self, waba_id: str) -> list[PhoneNumberConfig]:
        return [n for n in self._numbers.values() if self._number_waba[n.id] == waba_id]

    def templates_of(self, waba_id: str) -> list[TemplateEntry]:
        return list(self._templates.get(waba_id, {}).values())

    def find_template(self, waba_id: str, name: str, language: str) -> TemplateEntry | None:
        return self._templates.get(waba_id, {}).get((name, language))

    # ----------------------------------------------------------------------------------------
    # Runtime changes (admin API)

    def upsert_template(self, waba_id: str, data: Mapping[str, Any]) -> TemplateConfig:
        """Add a template, or update the one with the same name and language (fields not given
        keep their value)."""
        templates = self._templates[waba_id]
        where = f"template for {waba_id}"
        key = (req_str(data, "name", where), req_str(data, "language", where))
        current = templates.get(key)
        merged = {**current.config.to_graph(), **data} if current else data
        template = TemplateConfig.from_json(merged, where, waba_id=waba_id)
        templates[key] = _entry(template)
        return template

    def patch_phone_number(
        self, phone_number_id: str, data: Mapping[str, Any]
    ) -> PhoneNumberConfig:
        current = self._numbers[phone_number_id]
        where = f"phone number {phone_number_id}"
        check_known_keys(data, _PATCHABLE_NUMBER_FIELDS, where)
        updated = replace(
            current,
            throughput_mps=opt_int(data, "throughput_mps", current.throughput_mps, where, 1),
            quality_rating=opt_str(data, "quality_rating", current.quality_rating, where),
            throughput_level=opt_str(data, "throughput_level", current.throughput_level, where),
            messaging_limit=opt_str(
                data, "whatsapp_business_manager_messaging_limit", current.messaging_limit, where
            ),
        )
        self._numbers[phone_number_id] = updated
        return updated

    def set_faults(self, faults: FaultConfig) -> None:
        """New faults, a new random sequence from their seed and fresh attempt counts."""
        self.faults = FaultInjector(faults)

    def set_webhooks(self, webhooks: WebhookConfig) -> None:
        """New webhook settings, new random sequences; statuses not yet posted are dropped."""
        self.webhooks.configure(webhooks)

    # ----------------------------------------------------------------------------------------
    # Record and hooks

    def recorded(self) -> tuple[RecordedRequest, ...]:
        return self.recorder.all()

    def clear_recorded(self) -> None:
        self.recorder.clear()

    def subscribe_accepted(self, listener: AcceptedListener) -> None:
        """Called with every accepted send: the seam for status webhooks."""
        self._accepted_listeners.append(listener)

    def notify_accepted(self, message: AcceptedMessage) -> None:
        for listener in self._accepted_listeners:
            listener(message)


_PATCHABLE_NUMBER_FIELDS = frozenset(
    {
        "throughput_mps",
        "quality_rating",
        "throughput_level",
        "whatsapp_business_manager_messaging_limit",
    }
)


def _entry(template: TemplateConfig) -> TemplateEntry:
    return TemplateEntry(spec=TemplateSpec.of(template), graph=template.to_graph())


def _token_index(wabas: tuple[WabaConfig, ...]) -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for waba in wabas:
        for token in waba.access_tokens:
            index.setdefault(token, set()).add(waba.waba_id)
    return {token: frozenset(ids) for token, ids in index.items()}
