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
        # Holds told before the number's throughput was made (``hold_until``).
        self._holds: dict[NumberKey, float] = {}

    def of(self, number: NumberKey, throughput_level: str, now: float) -> NumberThroughput:
        """The number's throughput, at the rate its level gives."""
        mps = self.rate(throughput_level)
        throughput = self._numbers.get(number)
        if throughput is None:
            throughput = NumberThroughput(
                mps, slow_down=self._slow_down, margin_seconds=self._margin
            )
            held = self._holds.pop(number, None)
            if held is not None:
                throughput.hold_until(held)
            self._numbers[number] = throughput
        elif throughput.configured_rate != mps:
            throughput.set_configured(mps, now)
        return throughput

    def hold_until(self, number: NumberKey, moment: float) -> None:
        """Nothing starts from ``number`` before ``moment`` (others' slots run until then)."""
        throughput = self._numbers.get(number)
        if throughput is None:
            self._holds[number] = max(moment, self._holds.get(number, moment))
        else:
            throughput.hold_until(moment)

    def rate(self, throughput_level: str) -> float:
        """Messages per second a number at that level may send."""
        return self._fixed_mps or throughput_for(throughput_level)

    def spacing(self, throughput_level: str) -> float:
        """Seconds between two evenly spaced sends of a number at that level, margin included."""
        return (1.0 + self._margin) / self.rate(throughput_level)
