"""Every webhook POST the sandbox made, with the exact body and what the receiver answered.

A test compares it with what its receiver recorded: same bytes, same signature.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class SentWebhook:
    seq: int
    at: float  # Unix seconds, when the answer (or the failure) came
    url: str
    field: str  # "messages", "message_template_status_update", ...
    attempt: int  # 1 for the first POST of a body, 2... for its retries
    body: str  # the exact bytes posted, as text
    signature: str  # the X-Hub-Signature-256 header sent
    status: int | None  # the receiver's HTTP status; None when no answer came
    error: str | None = None  # why no answer came (connection refused, timeout)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "url": self.url,
            "field": self.field,
            "attempt": self.attempt,
            "body": self.body,
            "signature": self.signature,
            "status": self.status,
            "error": self.error,
        }


class WebhookLog:
    def __init__(self, max_records: int) -> None:
        self._records: deque[SentWebhook] = deque(maxlen=max_records)
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        return next(self._seq)

    def add(self, record: SentWebhook) -> None:
        self._records.append(record)

    def all(self) -> tuple[SentWebhook, ...]:
        return tuple(self._records)

    def resize(self, max_records: int) -> None:
        """Keep the most recent records that fit."""
        if self._records.maxlen != max_records:
            self._records = deque(self._records, maxlen=max_records)

    def clear(self) -> None:
        self._records.clear()
