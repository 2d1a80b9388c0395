"""The ``Mindo-Signature`` header: HMAC-SHA256 over ``timestamp.body`` with the endpoint's
secret, ``t=<unix>,v1=<hex>``; during a rotation's overlap one ``v1`` per valid secret, the
newest first, so that a receiver holding either secret accepts the request."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "Mindo-Signature"
# A receiver should refuse older timestamps (replay protection); ``verify`` does.
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    if not secrets:
        raise ValueError("a delivery is signed with at least one secret")
    signatures = ",".join(f"v1={sign(secret, timestamp, body)}" for secret in secrets)
    return f"t={timestamp},{signatures}"


def verify(
    header: str,
    body: bytes,
    secret: str,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the header's timestamp is recent and one ``v1`` matches."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
