"""The bulk engine's settings: its limits, its timing, its crash policy and its name as a worker."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mindo_core.bulks.model import CrashPolicy
from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.throughput.number_throughputs import NumberThroughputs
from mindo_core.throughput.pacing import SEND_MARGIN_SECONDS
from mindo_core.throughput.rate_gate import SlowDownPolicy
from mindo_core.throughput.retry_policy import RetrySettings
from mindo_core.throughput.scheduler import PairRatePolicy

__all__ = ["EngineSettings", "number_throughputs"]

# From this rate up (messages/s), the marks' lead grows with the number's rate.
MARK_LEAD_FROM_RATE = 200.0


@dataclass(frozen=True, kw_only=True)
class EngineSettings:
    # Who claims, in the store's claims: this engine's name among the workers sharing a store
    # (one process: any constant name).
    worker_id: str = "mindo"
    # Sends in flight at once, over every number.
    max_in_flight: int = 512
    # Every number's throughput in messages/s instead of the one its level gives
    # (``pacing.throughput_for``); None: from the level. For a Graph API without Meta's limits
    # (the sandbox's ``--unlimited``, ``bench/pipeline_ceiling``).
    throughput_mps: float | None = None
    # A claim takes this many seconds of sending at the number's current rate (1 to max_claim),
    # and the next one is made when the queue holds one claim or less. What is claimed and not
    # yet started when the process is killed goes back to pending (``start_mark_slice``).
    claim_seconds: float = 0.1
    max_claim: int = 500
    # A call starts once it is durably marked started; the marks asked within this many seconds
    # go in one write (``start_marks``). Only marked recipients are "unknown" after a crash.
    start_mark_slice: float = 0.005
    # Marks are asked this long before their slots, so that a call starts on time; above
    # MARK_LEAD_FROM_RATE messages/s the lead grows with the rate, up to start_mark_max_lead (a
    # mark then waits behind larger outcome writes: on SQLite, at 1,000/s a 20 ms lead cost
    # 40% of the rate, 100 ms about 15%).
    start_mark_lead: float = 0.02
    start_mark_max_lead: float = 0.1
    # Outcomes are written every flush_interval seconds or flush_batch outcomes.
    flush_interval: float = 0.05
    flush_batch: int = 200
    # How often the engine looks for bulks it was not told about.
    poll_interval: float = 1.0
    # On stop, how long sends in flight may take to finish before they are cancelled.
    stop_grace_seconds: float = 5.0
    # Every rate window is stretched by this per second (2 %): room for the clocks of Mindo
    # and Meta, and for the network's jitter, to disagree without a 130429. The number's gate
    # makes up late starts, so it sends at its limit: a send delayed on its way by more than
    # the margin, after one a second later was not, meets a full window at Meta. 1 % (10 ms)
    # saw 130429s against the sandbox on a 2-core machine with a core taken by other work.
    margin_seconds: float = SEND_MARGIN_SECONDS
    crash_policy: CrashPolicy = "mark_unconfirmed"
    retry: RetrySettings = field(default_factory=RetrySettings)
    slow_down: SlowDownPolicy = field(default_factory=SlowDownPolicy)
    pair_rate: PairRatePolicy = field(default_factory=PairRatePolicy)
    # A sending bulk's re-planned estimate is written at most this often (seconds).
    estimate_interval: float = 2.0
    # How often unknown outcomes are settled by their organisations' policies, once later
    # messages' webhooks have come (``unknown_sweep``; one indexed read when none is unknown).
    unknown_sweep_interval: float = 30.0
    # The retry jitter's seed; None: from the system.
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_in_flight < 1 or self.max_claim < 1:
            raise ValueError("max_in_flight and max_claim must be at least 1")
        if self.throughput_mps is not None and not 0 < self.throughput_mps < math.inf:
            raise ValueError("throughput_mps must be positive and finite")
        if min(self.claim_seconds, self.flush_interval, self.poll_interval) <= 0:
            raise ValueError("claim_seconds, flush_interval and poll_interval must be positive")
        if self.start_mark_slice < 0 or self.start_mark_lead < 0:
            raise ValueError("start_mark_slice and start_mark_lead must not be negative")
        if self.start_mark_max_lead < self.start_mark_lead:
            raise ValueError("start_mark_max_lead must not be below start_mark_lead")
        if self.estimate_interval <= 0 or self.unknown_sweep_interval <= 0:
            raise ValueError("estimate_interval and unknown_sweep_interval must be positive")

    def mark_lead(self, rate: float) -> float:
        """How long before their slots the calls of a number sending at ``rate`` are marked."""
        grown = self.start_mark_lead * max(1.0, rate / MARK_LEAD_FROM_RATE)
        return min(self.start_mark_max_lead, grown)


def number_throughputs(settings: EngineSettings) -> NumberThroughputs[PhoneNumberRowId]:
    """The numbers' throughputs as the engine paces them (its margin, its slow-down policy and
    its fixed rate, if any): one per process, shared with single sends."""
    return NumberThroughputs(
        slow_down=settings.slow_down,
        margin_seconds=settings.margin_seconds,
        fixed_mps=settings.throughput_mps,
    )
