"""The process's ``NumberThroughput``s, one per phone number, made when first asked for.

One registry per process, wired in the composition root and handed to the bulk engine and to
single sends, so that both pace a number through the same object. A number's throughput is
Meta's for its level (``pacing.throughput_for``), or a fixed rate for every number (a Graph API
without Meta's limits, as the engine's ``throughput_mps`` says); a level that changed is applied
by whoever reads it first.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from mindo_core.throughput.number_throughput import NumberThroughput
from mindo_core.throughput.pacing import throughput_for
from mindo_core.throughput.rate_gate import DEFAULT_MARGIN_SECONDS, SlowDownPolicy

__all__ = ["NumberThroughputs"]

NumberKey = TypeVar("NumberKey", bound=Hashable)


class NumberThroughputs(Generic[NumberKey]):
    def __init__(
        self,
        *,
        slow_down: SlowDownPolicy | None = None,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        fixed_mps: float | None = None,
    ) -> None:
        self._slow_down = slow_down
        self._margin = margin_seconds
        self._fixed_mps = fixed_mps
        self._numbers: dict[NumberKey, NumberThroughput] = {}

    def of(self, number: NumberKey, throughput_level: str, now: float) -> NumberThroughput:
        """The number's throughput, at the rate its level gives."""
        mps = self._fixed_mps or throughput_for(throughput_level)
        throughput = self._numbers.get(number)
        if throughput is None:
            throughput = NumberThroughput(
                mps, slow_down=self._slow_down, margin_seconds=self._margin
            )
            self._numbers[number] = throughput
        elif throughput.configured_rate != mps:
            throughput.set_configured(mps, now)
        return throughput
