"""The sandbox's starting state: accounts, numbers, templates, limits and faults.

Loaded from a JSON file (see ``demo.json``) or built in code. Phone numbers and templates are
written in the shape Meta's ``GET`` returns them, plus the sandbox's own knobs
(``throughput_mps`` on a number, ``generated_templates`` on an account).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from mindo_sandbox._json_reading import (
    ConfigError,
    as_list,
    as_mapping,
    check_known_keys,
    opt_float,
    opt_int,
    opt_str,
    req_str,
)
from mindo_sandbox.faults import FaultConfig
from mindo_sandbox.webhook_config import WebhookConfig

DEFAULT_MPS = 80


@dataclass(frozen=True, kw_only=True)
class PhoneNumberConfig:
    id: str
    display_phone_number: str
    verified_name: str
    quality_rating: str = "GREEN"
    throughput_level: str = "STANDARD"
    messaging_limit: str = "TIER_250"
    throughput_mps: int = DEFAULT_MPS
    # Other fields of Meta's phone number object, returned as given.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, where: str) -> PhoneNumberConfig:
        data = as_mapping(data, where)
        throughput = as_mapping(data.get("throughput", {}), f"{where}.throughput")
        return cls(
            id=req_str(data, "id", where),
            display_phone_number=req_str(data, "display_phone_number", where),
            verified_name=req_str(data, "verified_name", where),
            quality_rating=opt_str(data, "quality_rating", "GREEN", where),
            throughput_level=opt_str(throughput, "level", "STANDARD", f"{where}.throughput"),
            messaging_limit=opt_str(data, _LIMIT_FIELD, "TIER_250", where),
            throughput_mps=opt_int(data, "throughput_mps", DEFAULT_MPS, where, minimum=1),
            extra={k: v for k, v in data.items() if k not in _PHONE_KEYS},
        )

    def to_graph(self) -> dict[str, Any]:
        """The phone number object of ``GET /{phone_number_id}``."""
        return {
            "verified_name": self.verified_name,
            "code_verification_status": "VERIFIED",
            "display_phone_number": self.display_phone_number,
            "quality_rating": self.quality_rating,
            "platform_type": "CLOUD_API",
            "throughput": {"level": self.throughput_level},
            _LIMIT_FIELD: self.messaging_limit,
            **self.extra,
            "id": self.id,
        }


_LIMIT_FIELD = "whatsapp_business_manager_messaging_limit"
_PHONE_KEYS = frozenset(
    {
        "id",
        "display_phone_number",
        "verified_name",
        "quality_rating",
        "throughput",
        _LIMIT_FIELD,
        "throughput_mps",
    }
)


@dataclass(frozen=True, kw_only=True)
class TemplateConfig:
    id: str
    name: str
    language: str
    status: str = "APPROVED"
    category: str = "UTILITY"
    parameter_format: str = "POSITIONAL"
    components: tuple[Mapping[str, Any], ...] = ()
    # Other fields of Meta's template object (quality_score, sub_category...), returned as given.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, where: str, *, waba_id: str) -> TemplateConfig:
        data = as_mapping(data, where)
        name = req_str(data, "name", where)
        language = req_str(data, "language", where)
        components = as_list(data.get("components", []), f"{where}.components")
        return cls(
            id=opt_str(data, "id", template_id_for(waba_id, name, language), where),
            name=name,
            language=language,
            status=opt_str(data, "status", "APPROVED", where).upper(),
            category=opt_str(data, "category", "UTILITY", where).upper(),
            parameter_format=_parameter_format(data, where),
            components=tuple(as_mapping(c, f"{where}.components[]") for c in components),
            extra={k: v for k, v in data.items() if k not in _TEMPLATE_KEYS},
        )

    def to_graph(self) -> dict[str, Any]:
        """The template object of ``GET /{waba_id}/message_templates``."""
        return {
            "name": self.name,
            "parameter_format": self.parameter_format,
            "components": list(self.components),
            "language": self.language,
            "status": self.status,
            "category": self.category,
            **self.extra,
            "id": self.id,
        }


_TEMPLATE_KEYS = frozenset(
    {"id", "name", "language", "status", "category", "parameter_format", "components"}
)


def _parameter_format(data: Mapping[str, Any], where: str) -> str:
    value = opt_str(data, "parameter_format", "POSITIONAL", where).upper()
    if value not in ("POSITIONAL", "NAMED"):
        raise ConfigError(f"{where}: 'parameter_format' must be POSITIONAL or NAMED")
    return value


def template_id_for(waba_id: str, name: str, language: str) -> str:
    """A stable, Meta-looking (16 digits) id for a template given without one."""
    digest = hashlib.sha256(f"{waba_id}/{name}/{language}".encode()).digest()
    return str(10**15 + int.from_bytes(digest[:8], "big") % (9 * 10**15))


@dataclass(frozen=True, kw_only=True)
class WabaConfig:
    waba_id: str
    name: str
    access_tokens: tuple[str, ...] = field(repr=False)
    phone_numbers: tuple[PhoneNumberConfig, ...] = ()
    templates: tuple[TemplateConfig, ...] = ()

    @classmethod
    def from_json(cls, data: Any, where: str) -> WabaConfig:
        data = as_mapping(data, where)
        check_known_keys(data, _WABA_KEYS, where)
        waba_id = req_str(data, "waba_id", where)
        numbers = as_list(data.get("phone_numbers", []), f"{where}.phone_numbers")
        templates = as_list(data.get("templates", []), f"{where}.templates")
        return cls(
            waba_id=waba_id,
            name=req_str(data, "name", where),
            access_tokens=_tokens(data, where),
            phone_numbers=tuple(
                PhoneNumberConfig.from_json(n, f"{where}.phone_numbers[{i}]")
                for i, n in enumerate(numbers)
            ),
            templates=tuple(
                TemplateConfig.from_json(t, f"{where}.templates[{i}]", waba_id=waba_id)
                for i, t in enumerate(templates)
            )
            + generated_templates(waba_id, opt_int(data, "generated_templates", 0, where)),
        )


_WABA_KEYS = frozenset(
    {"waba_id", "name", "access_token", "access_tokens", "phone_numbers", "templates"}
    | {"generated_templates"}
)


def _tokens(data: Mapping[str, Any], where: str) -> tuple[str, ...]:
    tokens = as_list(data.get("access_tokens", []), f"{where}.access_tokens")
    if "access_token" in data:
        tokens = [data["access_token"], *tokens]
    if not tokens or not all(isinstance(t, str) and t for t in tokens):
        raise ConfigError(f"{where}: 'access_token' or 'access_tokens' (non-empty) is required")
    return tuple(tokens)


def generated_templates(waba_id: str, count: int) -> tuple[TemplateConfig, ...]:
    """``demo_tpl_01``...: approved positional templates, enough to need several pages."""
    return tuple(_generated_template(waba_id, n) for n in range(1, count + 1))


def _generated_template(waba_id: str, n: int) -> TemplateConfig:
    name = f"demo_tpl_{n:02d}"
    body = {
        "type": "BODY",
        "text": f"Mensaje de prueba {n}: {{{{1}}}}",
        "example": {"body_text": [["valor"]]},
    }
    return TemplateConfig(
        id=template_id_for(waba_id, name, "es"),
        name=name,
        language="es",
        components=(body,),
    )


@dataclass(frozen=True, kw_only=True)
class LimitsConfig:
    # Pair rate (131056): a token bucket per (phone number, recipient).
    pair_capacity: int = 45
    pair_refill_seconds: float = 6.0
    # Graph paging: the page size when the request gives no ``limit``, and the largest allowed.
    page_size: int = 25
    max_page_size: int = 1000
    max_recorded: int = 100_000
    # No throughput limit (never 130429) and no pair rate (never 131056): what a client can do
    # when Meta is not the bottleneck (``bench/pipeline_ceiling``). Chosen recipient errors and
    # the other faults still apply.
    unlimited: bool = False

    @classmethod
    def from_json(cls, data: Any, where: str = "limits") -> LimitsConfig:
        data = as_mapping(data, where)
        check_known_keys(data, _LIMIT_KEYS, where)
        defaults = cls()
        unlimited = data.get("unlimited", False)
        if not isinstance(unlimited, bool):
            raise ConfigError(f"{where}: 'unlimited' must be true or false")
        return cls(
            pair_capacity=opt_int(data, "pair_capacity", defaults.pair_capacity, where, 1),
            pair_refill_seconds=opt_float(
                data, "pair_refill_seconds", defaults.pair_refill_seconds, where
            ),
            page_size=opt_int(data, "page_size", defaults.page_size, where, 1),
            max_page_size=opt_int(data, "max_page_size", defaults.max_page_size, where, 1),
            max_recorded=opt_int(data, "max_recorded", defaults.max_recorded, where, 1),
            unlimited=unlimited,
        )


_LIMIT_KEYS = frozenset(
    {"pair_capacity", "pair_refill_seconds", "page_size", "max_page_size", "max_recorded"}
    | {"unlimited"}
)


@dataclass(frozen=True, kw_only=True)
class SandboxConfig:
    wabas: tuple[WabaConfig, ...]
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)

    @classmethod
    def from_json(cls, data: Any) -> SandboxConfig:
        data = as_mapping(data, "config")
        check_known_keys(data, frozenset({"wabas", "limits", "faults", "webhooks"}), "config")
        wabas = as_list(data.get("wabas", []), "config.wabas")
        config = cls(
            wabas=tuple(WabaConfig.from_json(w, f"wabas[{i}]") for i, w in enumerate(wabas)),
            limits=LimitsConfig.from_json(data.get("limits", {})),
            faults=FaultConfig.from_json(data.get("faults", {})),
            webhooks=WebhookConfig.from_json(data.get("webhooks", {})),
        )
        _check_unique_ids(config)
        return config

    @classmethod
    def load(cls, path: str | Path) -> SandboxConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_json(data)

    @classmethod
    def demo(cls) -> SandboxConfig:
        """The demo account shipped as ``mindo_sandbox/demo.json``."""
        text = resources.files("mindo_sandbox").joinpath("demo.json").read_text(encoding="utf-8")
        return cls.from_json(json.loads(text))

    def with_mps(self, mps: int) -> SandboxConfig:
        """Every number's throughput set to ``mps``."""
        return replace(
            self,
            wabas=tuple(
                replace(
                    w, phone_numbers=tuple(replace(n, throughput_mps=mps) for n in w.phone_numbers)
                )
                for w in self.wabas
            ),
        )


def _check_unique_ids(config: SandboxConfig) -> None:
    waba_ids = [w.waba_id for w in config.wabas]
    number_ids = [n.id for w in config.wabas for n in w.phone_numbers]
    ids = waba_ids + number_ids
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"config: ids used twice: {duplicates}")
    for waba in config.wabas:
        keys = [(t.name, t.language) for t in waba.templates]
        if len(keys) != len(set(keys)):
            raise ConfigError(f"wabas[{waba.waba_id}]: a template name+language appears twice")
