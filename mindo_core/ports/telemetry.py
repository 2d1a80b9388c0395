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


# delivered: a 2xx; retry: failed, tried again later; given_up: failed for good (other 4xx,
# or the retry window is over).
CallbackOutcome = Literal["delivered", "retry", "given_up"]


class CallbackTelemetry(Protocol):
    def callback_attempted(self, *, outcome: CallbackOutcome, seconds: float) -> None:
        """One POST of a status callback to an organisation's endpoint ended."""
        ...
