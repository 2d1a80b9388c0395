"""What the core tells an operator's metrics, without knowing how they are kept (Prometheus at
the edge, or nothing)."""

from __future__ import annotations

from typing import Literal, Protocol

# accepted: Meta took it (a wamid); refused: Meta's error envelope (with its code);
# unavailable: no usable answer, surely not sent; unknown: no answer, perhaps sent (a timeout).
SendOutcome = Literal["accepted", "refused", "unavailable", "unknown"]


class SendTelemetry(Protocol):
    def meta_send_finished(
        self, *, outcome: SendOutcome, meta_code: int | None, seconds: float
    ) -> None:
        """One call to Meta's send endpoint (a single send, or one recipient of a bulk) ended."""
        ...
