"""Steering the bulk engine: what the use cases tell it, and how that reaches every process.

In one process the use cases steer its engine directly. When the API and the engine run in
different processes (`mindo serve --no-engine`, `mindo worker`), a ``SteeringRelay`` passes
each word on to every other process' engine, so a submission, a cancellation or a number's new
throughput reaches the engine that sends, whichever process heard of it.
"""

from __future__ import annotations

from typing import Protocol

from mindo_core.bulks.model import BulkId
from mindo_core.domain.accounts import PhoneNumberRowId


class EngineSteering(Protocol):
    def wake(self) -> None:
        """A bulk was submitted or resumed."""
        ...

    def drop(self, bulk_id: BulkId) -> None:
        """A bulk was cancelled, paused or stopped: send nothing more of it."""
        ...

    def refresh_number(self, phone_number_row_id: PhoneNumberRowId) -> None:
        """The number's throughput or tier changed in the store."""
        ...


class SteeringRelay(Protocol):
    def relaying(self, local: EngineSteering) -> EngineSteering:
        """Steering that tells ``local`` and every other process' engine; what other
        processes say is told to ``local``."""
        ...
