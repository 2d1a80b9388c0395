"""How the sandbox posts webhooks: where, signed with what, and which statuses, when and how.

Without a ``callback_url`` nothing is posted. Everything random (delays, duplicates, reordering,
the order in which the shares are dealt) comes from the ``seed``: the same seed and the same
sequence of accepted sends give the same statuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from mindo_sandbox._json_reading import (
    ConfigError,
    as_mapping,
    check_known_keys,
    ms_range,
    opt_float,
    opt_int,
    opt_str,
)
from mindo_sandbox.faults import recipient_key

DEFAULT_APP_SECRET = "sandbox-app-secret"
MASK = "***"


@dataclass(frozen=True, kw_only=True)
class StatusShares:
    """Shares of accepted messages that reach ``delivered`` and ``read``; the rest stay ``sent``.

    Read implies delivered, so ``read`` is at most ``delivered``.
    """

    delivered: float = 1.0
    read: float = 0.0

    @classmethod
    def from_json(cls, data: Any, where: str) -> StatusShares:
        data = as_mapping(data, where)
        check_known_keys(data, frozenset({"delivered", "read"}), where)
        shares = cls(
            delivered=opt_float(data, "delivered", 1.0, where, maximum=1.0),
            read=opt_float(data, "read", 0.0, where, maximum=1.0),
        )
        if shares.read > shares.delivered:
            raise ConfigError(f"{where}: 'read' cannot be above 'delivered' (read implies it)")
        return shares

    def to_json(self) -> dict[str, float]:
        return {"delivered": self.delivered, "read": self.read}


@dataclass(frozen=True, kw_only=True)
class StatusDelays:
    """When each status happens, in ms after the send was accepted: ``[min, max]`` ranges.

    A failure happens at the ``delivered`` delay. Statuses of one message never happen out of
    order (a drawn ``read`` earlier than its ``delivered`` happens with it).
    """

    sent: tuple[float, float] = (50.0, 200.0)
    delivered: tuple[float, float] = (500.0, 2000.0)
    read: tuple[float, float] = (2000.0, 10000.0)

    @classmethod
    def from_json(cls, data: Any, where: str) -> StatusDelays:
        data = as_mapping(data, where)
        check_known_keys(data, frozenset({"sent", "delivered", "read"}), where)
        defaults = cls()
        return cls(
            sent=ms_range(data.get("sent", list(defaults.sent)), f"{where}.sent"),
            delivered=ms_range(
                data.get("delivered", list(defaults.delivered)), f"{where}.delivered"
            ),
            read=ms_range(data.get("read", list(defaults.read)), f"{where}.read"),
        )

    def to_json(self) -> dict[str, list[float]]:
        return {
            "sent": list(self.sent),
            "delivered": list(self.delivered),
            "read": list(self.read),
        }


@dataclass(frozen=True, kw_only=True)
class WebhookConfig:
    callback_url: str | None = None
    app_secret: str = field(default=DEFAULT_APP_SECRET, repr=False)
    seed: int = 0
    shares: StatusShares = field(default_factory=StatusShares)
    # Recipients (digits, as ``wa_id``) whose accepted messages later fail with this code.
    failures: Mapping[str, int] = field(default_factory=dict)
    delays_ms: StatusDelays = field(default_factory=StatusDelays)
    # Statuses due together are posted together, up to ``batch_size`` per POST; a round of
    # posts waits ``flush_interval_ms`` after the first status is due, so that batches fill.
    batch_size: int = 50
    flush_interval_ms: float = 200.0
    # Probability that a status is posted again in a later POST (Meta's retries duplicate).
    duplicate_rate: float = 0.0
    # Probability that a message's last status is posted before the one it follows (a read
    # before its delivered), and that a POST's statuses are shuffled.
    reorder_rate: float = 0.0
    max_concurrent_posts: int = 8
    # Attempts per POST when the receiver does not answer 2xx, backoff doubling from the first.
    max_attempts: int = 5
    retry_backoff_ms: float = 1000.0
    post_timeout_ms: float = 10_000.0
    max_recorded: int = 100_000

    @classmethod
    def from_json(cls, data: Any, where: str = "webhooks") -> WebhookConfig:
        data = as_mapping(data, where)
        check_known_keys(data, _WEBHOOK_KEYS, where)
        d = cls()
        return cls(
            callback_url=_callback_url(data.get("callback_url"), where),
            app_secret=opt_str(data, "app_secret", d.app_secret, where),
            seed=opt_int(data, "seed", d.seed, where),
            shares=StatusShares.from_json(data.get("shares", {}), f"{where}.shares"),
            failures=_failures(data.get("failures", {}), f"{where}.failures"),
            delays_ms=StatusDelays.from_json(data.get("delays_ms", {}), f"{where}.delays_ms"),
            batch_size=opt_int(data, "batch_size", d.batch_size, where, minimum=1),
            flush_interval_ms=opt_float(data, "flush_interval_ms", d.flush_interval_ms, where),
            duplicate_rate=opt_float(data, "duplicate_rate", 0.0, where, maximum=1.0),
            reorder_rate=opt_float(data, "reorder_rate", 0.0, where, maximum=1.0),
            max_concurrent_posts=opt_int(
                data, "max_concurrent_posts", d.max_concurrent_posts, where, minimum=1
            ),
            max_attempts=opt_int(data, "max_attempts", d.max_attempts, where, minimum=1),
            retry_backoff_ms=opt_float(data, "retry_backoff_ms", d.retry_backoff_ms, where),
            post_timeout_ms=opt_float(data, "post_timeout_ms", d.post_timeout_ms, where),
            max_recorded=opt_int(data, "max_recorded", d.max_recorded, where, minimum=1),
        )

    def to_json(self, *, mask_secret: bool = True) -> dict[str, Any]:
        return {
            "callback_url": self.callback_url,
            "app_secret": MASK if mask_secret else self.app_secret,
            "seed": self.seed,
            "shares": self.shares.to_json(),
            "failures": dict(self.failures),
            "delays_ms": self.delays_ms.to_json(),
            "batch_size": self.batch_size,
            "flush_interval_ms": self.flush_interval_ms,
            "duplicate_rate": self.duplicate_rate,
            "reorder_rate": self.reorder_rate,
            "max_concurrent_posts": self.max_concurrent_posts,
            "max_attempts": self.max_attempts,
            "retry_backoff_ms": self.retry_backoff_ms,
            "post_timeout_ms": self.post_timeout_ms,
            "max_recorded": self.max_recorded,
        }


_WEBHOOK_KEYS = frozenset(WebhookConfig().to_json())


def _callback_url(value: Any, where: str) -> str | None:
    if value is None:
        return None
    url = URL(value) if isinstance(value, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"{where}: 'callback_url' must be an http(s) URL or null")
    return str(value)


def _failures(value: Any, where: str) -> dict[str, int]:
    items = as_mapping(value, where)
    failures: dict[str, int] = {}
    for to, code in items.items():
        if isinstance(code, bool) or not isinstance(code, int) or code < 0:
            raise ConfigError(f"{where}[{to}]: expected an error code")
        failures[recipient_key(to)] = code
    return failures
