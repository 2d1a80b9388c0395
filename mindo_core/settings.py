"""Settings come from the environment once, in the composition root, as one frozen value.

| variable                 | default                         | meaning                            |
|--------------------------|---------------------------------|------------------------------------|
| MINDO_DATABASE_URL       | sqlite:///.mindo/mindo.db       | SQLite file or postgresql:// URL   |
| MINDO_SECRET_KEY         | (required to store tokens)      | encrypts Meta access tokens        |
| MINDO_META_BASE_URL      | https://graph.facebook.com      | Meta, or the sandbox               |
| MINDO_META_API_VERSION   | v21.0                           | Graph API version                  |
| MINDO_META_TIMEOUT_S     | 30                              | total timeout of one Meta call     |
| MINDO_META_SEND_TIMEOUT_S| MINDO_META_TIMEOUT_S            | ... of one send (single or bulk)   |
| MINDO_META_LIST_TIMEOUT_S| MINDO_META_TIMEOUT_S            | ... of one page of a listing       |
| MINDO_GRPC_ADDRESS       | 127.0.0.1:50051                 | where the gRPC service listens     |
| MINDO_HTTP_ADDRESS       | 127.0.0.1:8000                  | where the REST bridge listens      |
| MINDO_SANDBOX_ADDRESS    | 127.0.0.1:8900                  | where `mindo dev` runs the sandbox |
| MINDO_DEMO_API_KEY       | (random each start)             | pins the demo key of `mindo dev`   |
| MINDO_LOG_LEVEL          | INFO                            | DEBUG, INFO, WARNING, ERROR        |
| MINDO_KEY_RATE_LIMIT     | 100                             | requests/s per API key (0: off)    |
| MINDO_KEY_RATE_BURST     | 200                             | requests a key may make at once    |
| MINDO_META_APP_SECRET    | (none: webhook POSTs refused)   | checks Meta's webhook signatures   |
| MINDO_METRICS_ADDRESS    | (none: no metrics server)       | HOST:PORT of the service's /metrics|
| MINDO_LOG_FORMAT         | text                            | text, or json: one object a line   |
| MINDO_CALLBACKS_ALLOW_PRIVATE | 0                          | 1: callbacks to private addresses  |
| MINDO_CALLBACKS_RETRY_BASE_S | 5                           | first callback retry's backoff     |
| MINDO_CALLBACKS_RETRY_MAX_S | 3600                         | longest wait between retries       |
| MINDO_CALLBACKS_RETRY_FOR_S | 86400                        | retry for; endpoint disabled after |
| MINDO_CALLBACKS_TIMEOUT_S | 10                             | one callback POST's timeout        |
| MINDO_LEASE_S            | 6                               | a worker's hold on a number (2-60) |
| MINDO_STOP_GRACE_S       | 5                               | SIGTERM: time for sends in flight  |
| MINDO_UNKNOWN_SWEEP_S    | 30                              | how often unknown outcomes settle  |
| MINDO_EVENT_LOOP         | uvloop                          | uvloop (when installed) or asyncio |
| MINDO_QUOTA_REFRESH_S    | 10                              | quota decisions reuse a reading    |
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mindo_core.domain.errors import InvalidRequest


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str = "sqlite:///.mindo/mindo.db"
    secret_key: str = field(default="", repr=False)
    meta_base_url: str = "https://graph.facebook.com"
    meta_api_version: str = "v21.0"
    meta_timeout_seconds: float = 30.0
    # Per call kind; None: meta_timeout_seconds.
    meta_send_timeout_seconds: float | None = None
    meta_list_timeout_seconds: float | None = None
    grpc_address: str = "127.0.0.1:50051"
    http_address: str = "127.0.0.1:8000"
    sandbox_address: str = "127.0.0.1:8900"
    demo_api_key: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    key_rate_limit: float = 100.0
    key_rate_burst: int = 200
    # How long a single send waits for a free slot on its number (shared with the bulks
    # sending from it) before it is refused with number_at_capacity.
    send_slot_wait_seconds: float = 1.0
    # Every number's throughput in messages/s instead of its level's: for a Graph API without
    # Meta's limits (the sandbox's --unlimited, benchmarks). None: Meta's, from the level.
    throughput_mps: float | None = None
    # The Meta app's secret: every webhook POST is signed with it (X-Hub-Signature-256).
    meta_app_secret: str = field(default="", repr=False)
    # Where `mindo serve` answers Prometheus' scrapes; None: it does not.
    metrics_address: str | None = None
    log_format: str = "text"
    # Status callbacks (``callbacks``): private receivers for development and tests only.
    callbacks_allow_private: bool = False
    callbacks_retry_base_seconds: float = 5.0
    callbacks_retry_max_seconds: float = 3600.0
    callbacks_retry_for_seconds: float = 86400.0
    callbacks_timeout_seconds: float = 10.0
    # How long a worker's lease on a phone number holds unrenewed (PostgreSQL): a worker killed
    # or cut off loses its numbers within it, plus the taker's poll (``engine.lifecycle``).
    lease_seconds: float = 6.0
    # On SIGTERM, how long a draining engine lets its sends in flight finish.
    stop_grace_seconds: float = 5.0
    # How often the engine settles unknown outcomes by the organisations' policies.
    unknown_sweep_seconds: float = 30.0
    # How long the quota's decisions reuse a full reading of an organisation's book (its 24 h
    # window): window entries that expire and bulks that finish count that long after; 0 reads
    # it for every decision (``adapters.book_reading``).
    quota_refresh_seconds: float = 10.0
    # The event loop of the long-running processes (serve, worker, bridge): uvloop when it is
    # installed, else asyncio's own; "asyncio" to keep asyncio's own anyway.
    event_loop: str = "uvloop"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        defaults = cls()
        return cls(
            database_url=get("MINDO_DATABASE_URL", defaults.database_url),
            secret_key=get("MINDO_SECRET_KEY", ""),
            meta_base_url=get("MINDO_META_BASE_URL", defaults.meta_base_url).rstrip("/"),
            meta_api_version=get("MINDO_META_API_VERSION", defaults.meta_api_version),
            meta_timeout_seconds=_positive_float(
                get("MINDO_META_TIMEOUT_S", str(defaults.meta_timeout_seconds)),
                "MINDO_META_TIMEOUT_S",
            ),
            meta_send_timeout_seconds=_optional_positive(get, "MINDO_META_SEND_TIMEOUT_S"),
            meta_list_timeout_seconds=_optional_positive(get, "MINDO_META_LIST_TIMEOUT_S"),
            grpc_address=get("MINDO_GRPC_ADDRESS", defaults.grpc_address),
            http_address=get("MINDO_HTTP_ADDRESS", defaults.http_address),
            sandbox_address=get("MINDO_SANDBOX_ADDRESS", defaults.sandbox_address),
            demo_api_key=get("MINDO_DEMO_API_KEY", "") or None,
            log_level=get("MINDO_LOG_LEVEL", defaults.log_level).upper(),
            key_rate_limit=_non_negative_float(
                get("MINDO_KEY_RATE_LIMIT", str(defaults.key_rate_limit)), "MINDO_KEY_RATE_LIMIT"
            ),
            throughput_mps=_optional_positive_float(
                get("MINDO_THROUGHPUT_MPS", ""), "MINDO_THROUGHPUT_MPS"
            ),
            send_slot_wait_seconds=_positive_float(
                get("MINDO_SEND_SLOT_WAIT_S", str(defaults.send_slot_wait_seconds)),
                "MINDO_SEND_SLOT_WAIT_S",
            ),
            # As it is, untrimmed: the bridge reads the same variable, and must sign alike.
            meta_app_secret=env.get("MINDO_META_APP_SECRET", ""),
            metrics_address=get("MINDO_METRICS_ADDRESS", "") or None,
            log_format=_log_format(get("MINDO_LOG_FORMAT", defaults.log_format)),
            event_loop=_event_loop(get("MINDO_EVENT_LOOP", defaults.event_loop)),
            lease_seconds=_lease_seconds(get("MINDO_LEASE_S", str(defaults.lease_seconds))),
            stop_grace_seconds=_positive_float(
                get("MINDO_STOP_GRACE_S", str(defaults.stop_grace_seconds)), "MINDO_STOP_GRACE_S"
            ),
            unknown_sweep_seconds=_positive_float(
                get("MINDO_UNKNOWN_SWEEP_S", str(defaults.unknown_sweep_seconds)),
                "MINDO_UNKNOWN_SWEEP_S",
            ),
            quota_refresh_seconds=_quota_refresh_seconds(
                get("MINDO_QUOTA_REFRESH_S", str(defaults.quota_refresh_seconds))
            ),
            key_rate_burst=int(
                _non_negative_float(
                    get("MINDO_KEY_RATE_BURST", str(defaults.key_rate_burst)),
                    "MINDO_KEY_RATE_BURST",
                )
            ),
            callbacks_allow_private=get("MINDO_CALLBACKS_ALLOW_PRIVATE", "0") in _TRUE,
            callbacks_retry_base_seconds=_positive_float(
                get("MINDO_CALLBACKS_RETRY_BASE_S", str(defaults.callbacks_retry_base_seconds)),
                "MINDO_CALLBACKS_RETRY_BASE_S",
            ),
            callbacks_retry_max_seconds=_positive_float(
                get("MINDO_CALLBACKS_RETRY_MAX_S", str(defaults.callbacks_retry_max_seconds)),
                "MINDO_CALLBACKS_RETRY_MAX_S",
            ),
            callbacks_retry_for_seconds=_positive_float(
                get("MINDO_CALLBACKS_RETRY_FOR_S", str(defaults.callbacks_retry_for_seconds)),
                "MINDO_CALLBACKS_RETRY_FOR_S",
            ),
            callbacks_timeout_seconds=_positive_float(
                get("MINDO_CALLBACKS_TIMEOUT_S", str(defaults.callbacks_timeout_seconds)),
                "MINDO_CALLBACKS_TIMEOUT_S",
            ),
        )


_TRUE = ("1", "true", "yes", "on")


LOG_FORMATS = ("text", "json")


def _log_format(raw: str) -> str:
    value = raw.lower()
    if value not in LOG_FORMATS:
        raise InvalidRequest.for_field("MINDO_LOG_FORMAT", f"must be text or json, got {raw!r}")
    return value


EVENT_LOOPS = ("uvloop", "asyncio")


def _event_loop(raw: str) -> str:
    value = raw.lower()
    if value not in EVENT_LOOPS:
        raise InvalidRequest.for_field(
            "MINDO_EVENT_LOOP", f"must be uvloop or asyncio, got {raw!r}"
        )
    return value


def _lease_seconds(raw: str) -> float:
    """Above the engine's one-second stop margin (``engine.tenure``), and short enough that a
    dead worker's numbers do not wait long."""
    value = _positive_float(raw, "MINDO_LEASE_S")
    if not 2 <= value <= 60:
        raise InvalidRequest.for_field("MINDO_LEASE_S", "must be between 2 and 60 seconds")
    return value


def _quota_refresh_seconds(raw: str) -> float:
    """At most a minute: what a reused reading over-counts (entries expired, bulks finished)
    is counted that long, refusing new recipients early."""
    value = _non_negative_float(raw, "MINDO_QUOTA_REFRESH_S")
    if not value <= 60:
        raise InvalidRequest.for_field("MINDO_QUOTA_REFRESH_S", "must be between 0 and 60 seconds")
    return value


def _non_negative_float(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequest.for_field(name, f"must be a number, got {raw!r}") from None
    if value < 0:
        raise InvalidRequest.for_field(name, "must not be negative")
    return value


def _optional_positive(get: Callable[[str, str], str], name: str) -> float | None:
    raw = get(name, "")
    return _positive_float(raw, name) if raw else None


def _optional_positive_float(raw: str, name: str) -> float | None:
    if not raw:
        return None
    value = _positive_float(raw, name)
    if not math.isfinite(value):
        raise InvalidRequest.for_field(name, "must be a finite number")
    return value


def _positive_float(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequest.for_field(name, f"must be a number, got {raw!r}") from None
    if value <= 0:
        raise InvalidRequest.for_field(name, "must be greater than zero")
    return value


def split_address(address: str) -> tuple[str, int]:
    """'127.0.0.1:8000' → ('127.0.0.1', 8000); '[::1]:8000' → ('::1', 8000)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidRequest.for_field("address", f"expected HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)
