"""What to do after one send: done, retry later, give up on the recipient, or stop the bulk.

The engine describes each answer as a ``SendOutcome``, one of seven kinds:

    ok          Meta accepted the message
    transient   worth trying again: Meta unreachable (nothing sent), a bare 5xx, or codes such as
                2, 131000, 131016, 131057, 133004 (``max_retries`` when the code caps them)
    unknown     no answer after the request left (a timeout): Meta may have sent it, so it is
                never retried (a second send could be a duplicate); the recipient is unconfirmed
    throttled   the number goes too fast (130429, 80007, 4; 131048 too, but not retried): the
                scheduler slows the number down, and the message is retried unless told not to
    pair_rate   131056: too many messages to this one recipient; only that recipient waits
    permanent   this recipient cannot get this message (recorded with Meta's code and text)
    stop        nothing else in the bulk can succeed (token, account, billing, template paused)

``outcome_for_meta_error`` builds the outcome of a Meta error code from the code's policy in
Meta's code table (``mindo_core.adapters.meta.errors.policy_for``), which the core does not
import: any object with the same five read-only attributes will do.

``RetryPolicy.decide(outcome, attempt)`` turns it into a ``RetryDecision``. ``attempt`` counts
the attempts made for this recipient, the one that produced ``outcome`` included (1 for the
first send). Retries are bounded: after ``max_attempts`` attempts (5 by default: the first send
and four retries) the recipient fails for good with the last code. Delays:

* transient and throttled: exponential backoff with full jitter, a uniform draw in
  ``[0, min(max_delay, base * 2 ** (attempt - 1))]`` (1, 2, 4, 8 s by default) from the injected
  ``random.Random``, raised to a per-code minimum where Meta asks for one (131057, maintenance
  of up to a minute: 20 s);
* pair_rate: Meta's ``4 ** X`` seconds, X counting from 0: 1, 4, 16, 64 s, without jitter.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

__all__ = [
    "PAIR_RATE_CODE",
    "CodePolicy",
    "DecisionAction",
    "OutcomeKind",
    "RetryDecision",
    "RetryPolicy",
    "RetrySettings",
    "SendOutcome",
    "outcome_for_meta_error",
    "stop_reason",
]

PAIR_RATE_CODE = 131056

OutcomeKind = Literal["ok", "transient", "unknown", "throttled", "pair_rate", "permanent", "stop"]
DecisionAction = Literal["done", "retry", "give_up", "unknown", "stop"]


@dataclass(frozen=True, kw_only=True)
class SendOutcome:
    """How one send ended; ``title`` is Meta's error text, or why there was no answer."""

    kind: OutcomeKind
    meta_code: int | None = None
    title: str = ""
    retryable: bool = True
    max_retries: int | None = None

    @classmethod
    def ok(cls) -> SendOutcome:
        return cls(kind="ok")

    @classmethod
    def transient(
        cls, meta_code: int | None = None, *, title: str = "", max_retries: int | None = None
    ) -> SendOutcome:
        return cls(kind="transient", meta_code=meta_code, title=title, max_retries=max_retries)

    @classmethod
    def unknown(cls, *, title: str = "") -> SendOutcome:
        return cls(kind="unknown", title=title, retryable=False)

    @classmethod
    def throttled(cls, meta_code: int, *, title: str = "", retryable: bool = True) -> SendOutcome:
        return cls(kind="throttled", meta_code=meta_code, title=title, retryable=retryable)

    @classmethod
    def pair_rate(cls, *, title: str = "") -> SendOutcome:
        return cls(kind="pair_rate", meta_code=PAIR_RATE_CODE, title=title)

    @classmethod
    def permanent(cls, meta_code: int | None, *, title: str = "") -> SendOutcome:
        return cls(kind="permanent", meta_code=meta_code, title=title, retryable=False)

    @classmethod
    def stop(cls, meta_code: int, *, title: str = "") -> SendOutcome:
        return cls(kind="stop", meta_code=meta_code, title=title, retryable=False)


class CodePolicy(Protocol):
    """What Meta's code table says about one code (``MetaCodePolicy`` has this shape)."""

    @property
    def retryable(self) -> bool: ...
    @property
    def max_retries(self) -> int | None: ...
    @property
    def stops_campaign(self) -> bool: ...
    @property
    def slows_down(self) -> bool: ...
    @property
    def recipient_scoped(self) -> bool: ...


def outcome_for_meta_error(meta_code: int, policy: CodePolicy, *, title: str = "") -> SendOutcome:
    """The outcome of a send Meta refused with ``meta_code``, given that code's policy."""
    if policy.stops_campaign:
        return SendOutcome.stop(meta_code, title=title)
    if policy.recipient_scoped:
        return SendOutcome.pair_rate(title=title)
    if policy.slows_down:
        return SendOutcome.throttled(meta_code, title=title, retryable=policy.retryable)
    if policy.retryable:
        return SendOutcome.transient(meta_code, title=title, max_retries=policy.max_retries)
    return SendOutcome.permanent(meta_code, title=title)


@dataclass(frozen=True, kw_only=True)
class RetryDecision:
    """``retry`` after ``delay`` seconds; ``give_up`` on this recipient or ``stop`` the bulk,
    recording ``meta_code`` and ``reason``; ``unknown``: not retried, its outcome unknown; or
    ``done``."""

    action: DecisionAction
    delay: float = 0.0
    meta_code: int | None = None
    reason: str = ""


def _default_minimum_delays() -> Mapping[int, float]:
    # 131057: the account is in maintenance, e.g. during a throughput upgrade, for up to 1 min.
    return MappingProxyType({131057: 20.0})


@dataclass(frozen=True, kw_only=True)
class RetrySettings:
    max_attempts: int = 5
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0
    pair_rate_base_seconds: float = 4.0
    minimum_delay_seconds: Mapping[int, float] = field(default_factory=_default_minimum_delays)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


class RetryPolicy:
    """Decides after each send; the only randomness is the jitter, drawn from ``rng``."""

    def __init__(self, rng: random.Random, settings: RetrySettings | None = None) -> None:
        self._rng = rng
        self.settings = settings or RetrySettings()

    def decide(self, outcome: SendOutcome, attempt: int) -> RetryDecision:
        if attempt < 1:
            raise ValueError(f"attempts count from 1, not {attempt}")
        if outcome.kind == "ok":
            return RetryDecision(action="done")
        if outcome.kind == "unknown":
            return RetryDecision(action="unknown", reason=outcome.title or _describe(outcome))
        if outcome.kind == "stop":
            return RetryDecision(
                action="stop", meta_code=outcome.meta_code, reason=stop_reason(outcome)
            )
        if outcome.kind == "permanent" or not outcome.retryable:
            return _give_up(outcome, outcome.title or _describe(outcome))
        if attempt >= self._attempts_allowed(outcome):
            text = outcome.title or _describe(outcome)
            return _give_up(outcome, f"gave up after {attempt} attempts: {text}")
        return RetryDecision(
            action="retry", delay=self._delay(outcome, attempt), meta_code=outcome.meta_code
        )

    def backoff_bound(self, attempt: int) -> float:
        """The largest jittered delay after failed attempt number ``attempt``."""
        settings = self.settings
        exponential: float = settings.base_delay_seconds * 2.0 ** (attempt - 1)
        return min(settings.max_delay_seconds, exponential)

    def _attempts_allowed(self, outcome: SendOutcome) -> int:
        if outcome.max_retries is None:
            return self.settings.max_attempts
        return min(self.settings.max_attempts, 1 + outcome.max_retries)

    def _delay(self, outcome: SendOutcome, attempt: int) -> float:
        if outcome.kind == "pair_rate":
            return float(self.settings.pair_rate_base_seconds ** (attempt - 1))
        jittered = self._rng.uniform(0.0, self.backoff_bound(attempt))
        code = outcome.meta_code
        minimum = 0.0 if code is None else self.settings.minimum_delay_seconds.get(code, 0.0)
        return max(minimum, jittered)


def _give_up(outcome: SendOutcome, reason: str) -> RetryDecision:
    return RetryDecision(action="give_up", meta_code=outcome.meta_code, reason=reason)


def _describe(outcome: SendOutcome) -> str:
    if outcome.meta_code is None:
        return "no usable answer from Meta"
    return f"Meta error {outcome.meta_code}"


# Why a code stops a bulk, in words an operator can act on.
_STOP_EXPLANATIONS: Mapping[int, str] = MappingProxyType(
    {
        0: "Meta could not authenticate the access token",
        3: "the app lacks a capability or permission",
        10: "a permission was not granted or was removed",
        33: "the business phone number was deleted",
        190: "the access token has expired",
        368: "the WhatsApp Business account is restricted for a policy violation",
        131031: "the business account is locked",
        131042: "the business account has a payment or billing problem",
        131045: "the phone number has a registration error",
        132015: "the template is paused for low quality",
        132016: "the template is permanently disabled",
        133010: "the phone number is not registered on the Cloud API",
    }
)


def stop_reason(outcome: SendOutcome) -> str:
    """ "Stopped: <why> (Meta error <code>: <Meta's text>)"."""
    code = outcome.meta_code
    if code is not None and code in _STOP_EXPLANATIONS:
        why = _STOP_EXPLANATIONS[code]
    elif code is not None and 200 <= code < 300:
        why = "the app lacks an API permission"
    else:
        why = "Meta refused every further send"
    detail = f"Meta error {code}" if code is not None else "Meta error"
    if outcome.title:
        detail = f"{detail}: {outcome.title}"
    return f"Stopped: {why} ({detail})"
