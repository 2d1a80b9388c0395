"""Which URLs may receive callbacks: http(s), at most 2 kB, with a host; not a loopback,
private, link-local or otherwise internal address (Mindo would post the organisation's data
into its own network) unless the operator allows it (``MINDO_CALLBACKS_ALLOW_PRIVATE=1``).
Hosts are judged as written (literal addresses and local names); names are not resolved here."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from mindo_core.callbacks.model import EVENT_TYPES, EventType
from mindo_core.domain.errors import InvalidRequest

MAX_URL_BYTES = 2048
URL_FIELD = "url"
EVENTS_FIELD = "events"
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def checked_url(raw: str, *, allow_private: bool) -> str:
    url = raw.strip()
    problem = _problem(url, allow_private=allow_private)
    if problem is not None:
        raise InvalidRequest.for_field(URL_FIELD, problem)
    return url


def checked_events(raw: Sequence[str]) -> frozenset[EventType]:
    """Empty: every event."""
    if not raw:
        return frozenset(EVENT_TYPES)
    chosen: set[EventType] = set()
    unknown: list[str] = []
    for name in raw:
        matched = next((t for t in EVENT_TYPES if t == name), None)
        if matched is None:
            unknown.append(name[:64])
        else:
            chosen.add(matched)
    if unknown:
        problems = [f"unknown event '{name}'" for name in unknown]
        problems.append(f"known events: {', '.join(EVENT_TYPES)}")
        raise InvalidRequest(
            f"{EVENTS_FIELD}: unknown event names", field_errors={EVENTS_FIELD: problems}
        )
    return frozenset(chosen)


def _problem(url: str, *, allow_private: bool) -> str | None:
    if not url:
        return "is required"
    if len(url.encode("utf-8")) > MAX_URL_BYTES:
        return f"is longer than {MAX_URL_BYTES} bytes"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not host:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user:password@)"
    if not allow_private and _is_internal(host):
        return (
            "points at a loopback or private address; callbacks go to public hosts "
            "(the operator may allow private ones: MINDO_CALLBACKS_ALLOW_PRIVATE=1)"
        )
    return None


def _is_internal(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast
