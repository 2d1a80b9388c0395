"""What the core tells an operator's metrics, without knowing how they are kept (Prometheus at
the edge, or nothing)."""

from __future__ import annotations

from collections.abc import Sequence
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


# delivered: a 2xx; retry: failed, tried again later; given_up: failed for good (other 4xx,
# or the retry window is over).
CallbackOutcome = Literal["delivered", "retry", "given_up"]


class CallbackTelemetry(Protocol):
    def callback_attempted(self, *, outcome: CallbackOutcome, seconds: float) -> None:
        """One POST of a status callback to an organisation's endpoint ended."""
        ...


class EngineTelemetry(Protocol):
    def send_started(
        self, *, phone_number_id: str, late_seconds: float, rate: float, cap: float
    ) -> None:
        """A bulk recipient's call to Meta started ``late_seconds`` after its slot, from a
        number paced at ``rate`` messages a second of its ``cap`` (Meta's throughput)."""
        ...


class WebhookTelemetry(Protocol):
    def statuses_received(self, lags_seconds: Sequence[float]) -> None:
        """Meta's delivery statuses arrived, each this long after Meta's own time for it."""
        ...


class Telemetry(SendTelemetry, EngineTelemetry, WebhookTelemetry, Protocol):
    """All the core reports, as one object (the service's or a worker's metrics)."""
