"""Fault injection: latency, server errors, timeouts and chosen error codes per recipient.

Everything random comes from one ``random.Random(seed)``: the same seed and the same sequence of
sends give the same faults. Faults apply to message sends only (``POST .../messages``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from mindo_sandbox._json_reading import (
    ConfigError,
    as_list,
    as_mapping,
    check_known_keys,
    ms_range,
    opt_float,
    opt_int,
)

ServerErrorKind = Literal["500", "503", "500_graph", "503_graph"]
SERVER_ERROR_KINDS: tuple[ServerErrorKind, ...] = get_args(ServerErrorKind)

_NON_DIGITS = re.compile(r"\D")


@dataclass(frozen=True, kw_only=True)
class RecipientFault:
    """Codes answered to one recipient, one per attempt.

    With ``then_succeed`` the sends after the listed attempts are accepted (to test retries);
    without it the last code is answered forever.
    """

    codes: tuple[int, ...]
    then_succeed: bool

    def code_for_attempt(self, attempt: int) -> int | None:
        """``attempt`` counts from 1."""
        if attempt <= len(self.codes):
            return self.codes[attempt - 1]
        return None if self.then_succeed else self.codes[-1]

    def to_json(self) -> int | list[int]:
        return list(self.codes) if self.then_succeed else self.codes[0]


@dataclass(frozen=True, kw_only=True)
class FaultConfig:
    seed: int = 0
    # Added to every send: uniform between the two bounds (equal bounds: a fixed latency).
    latency_ms: tuple[float, float] = (0.0, 0.0)
    server_error_rate: float = 0.0
    server_errors: tuple[ServerErrorKind, ...] = SERVER_ERROR_KINDS
    timeout_rate: float = 0.0
    # How long a "timed out" send is held before it is processed anyway (a client that gave up
    # cannot know whether Meta sent it). None: held until the sandbox stops, never answered.
    timeout_hold_ms: float | None = 30_000.0
    recipient_errors: Mapping[str, RecipientFault] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, where: str = "faults") -> FaultConfig:
        data = as_mapping(data, where)
        check_known_keys(data, _FAULT_KEYS, where)
        return cls(
            seed=opt_int(data, "seed", 0, where),
            latency_ms=ms_range(data.get("latency_ms", 0), f"{where}.latency_ms"),
            server_error_rate=opt_float(data, "server_error_rate", 0.0, where, maximum=1.0),
            server_errors=_server_errors(data.get("server_errors"), f"{where}.server_errors"),
            timeout_rate=opt_float(data, "timeout_rate", 0.0, where, maximum=1.0),
            timeout_hold_ms=_hold(data, where),
            recipient_errors=_recipient_errors(data.get("recipient_errors", {}), where),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "latency_ms": list(self.latency_ms),
            "server_error_rate": self.server_error_rate,
            "server_errors": list(self.server_errors),
            "timeout_rate": self.timeout_rate,
            "timeout_hold_ms": self.timeout_hold_ms,
            "recipient_errors": {k: v.to_json() for k, v in self.recipient_errors.items()},
        }


_FAULT_KEYS = frozenset(
    {
        "seed",
        "latency_ms",
        "server_error_rate",
        "server_errors",
        "timeout_rate",
        "timeout_hold_ms",
        "recipient_errors",
    }
)


def _server_errors(value: Any, where: str) -> tuple[ServerErrorKind, ...]:
    if value is None:
        return SERVER_ERROR_KINDS
    kinds = as_list(value, where)
    if not kinds or any(k not in SERVER_ERROR_KINDS for k in kinds):
        raise ConfigError(f"{where}: expected a non-empty list of {list(SERVER_ERROR_KINDS)}")
    return tuple(cast(ServerErrorKind, k) for k in kinds)


def _hold(data: Mapping[str, Any], where: str) -> float | None:
    if "timeout_hold_ms" in data and data["timeout_hold_ms"] is None:
        return None
    return opt_float(data, "timeout_hold_ms", 30_000.0, where)


def _recipient_errors(value: Any, where: str) -> dict[str, RecipientFault]:
    items = as_mapping(value, f"{where}.recipient_errors")
    return {
        recipient_key(to): _recipient_fault(codes, f"{where}.recipient_errors[{to}]")
        for to, codes in items.items()
    }


def _recipient_fault(value: Any, where: str) -> RecipientFault:
    if _is_code(value):
        return RecipientFault(codes=(value,), then_succeed=False)
    codes = as_list(value, where)
    if not codes or not all(_is_code(c) for c in codes):
        raise ConfigError(f"{where}: expected an error code or a non-empty list of codes")
    return RecipientFault(codes=tuple(codes), then_succeed=True)


def _is_code(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def recipient_key(to: str) -> str:
    """Recipients are matched on digits only, as Meta's ``wa_id``."""
    return _NON_DIGITS.sub("", to)


@dataclass(frozen=True, kw_only=True)
class FaultDecision:
    latency_s: float
    server_error: ServerErrorKind | None
    timeout: bool


NO_FAULT = FaultDecision(latency_s=0.0, server_error=None, timeout=False)


class FaultInjector:
    """Draws the faults of each send, and counts attempts per recipient."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)
        self._attempts: dict[str, int] = {}
        self._quiet = (
            config.latency_ms == (0.0, 0.0)
            and config.server_error_rate == 0.0
            and config.timeout_rate == 0.0
        )

    def decide(self) -> FaultDecision:
        if self._quiet:
            return NO_FAULT
        low, high = self.config.latency_ms
        latency_ms = low if low == high else self._random.uniform(low, high)
        server_error = None
        if self._draw(self.config.server_error_rate):
            server_error = self._random.choice(self.config.server_errors)
        timeout = self._draw(self.config.timeout_rate)
        return FaultDecision(
            latency_s=latency_ms / 1000.0, server_error=server_error, timeout=timeout
        )

    def _draw(self, rate: float) -> bool:
        # A zero rate draws nothing, so enabling one fault does not shift another's sequence.
        return bool(rate) and self._random.random() < rate

    def recipient_code(self, wa_id: str) -> int | None:
        """The chosen code for this attempt to ``wa_id``, if any; counts the attempt."""
        fault = self.config.recipient_errors.get(wa_id)
        if fault is None:
            return None
        attempt = self._attempts.get(wa_id, 0) + 1
        self._attempts[wa_id] = attempt
        return fault.code_for_attempt(attempt)
