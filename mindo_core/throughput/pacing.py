"""How fast a bulk send may go, and so how long it will take.

Three numbers meet here:

* the **throughput** of the sending phone number (Meta's hard limit; going over it answers
  130429): 80 messages/s for a ``STANDARD`` number, 1,000 for ``HIGH``, 20 for a number shared
  with the WhatsApp Business app ("coexistence"). ``NOT_APPLICABLE`` and unknown levels get 80,
  the default Meta gives every registered number. A per-number setting, when an operator made
  one, replaces all of these; the caller applies it instead of calling ``throughput_for``;
* the bulk's **pacing** (``Pacing``): ``"max"`` (the default: the number's throughput),
  ``"tier"`` (the spacing Mindo's documentation recommends per messaging tier) or a cap in
  messages per second;
* the number's **messaging tier**, which only matters for ``"tier"`` pacing.

Tier spacing. Mindo's table gives 1.2 s between messages for TIER_50, 0.24 s for TIER_250,
0.06 s for TIER_1000, 0.006 s for TIER_10000, 0.0006 s for TIER_100000 and no delay for
TIER_UNLIMITED: exactly 60 s divided by the tier's daily limit. The tier is read as
``domain.tiers.tier_or_default`` reads it, so Meta's names follow the same rule (TIER_2K, which
replaced TIER_1K, paces at 60/2000 = 0.03 s, TIER_1K at 0.06 s, TIER_10K at 0.006 s and
TIER_100K at 0.0006 s), and TIER_NOT_SET (a number that has not sent yet) or a tier Mindo cannot
read paces like TIER_250, the level a new portfolio starts at: slow enough to be safe, fast
enough to be useful. A tier pacing never goes faster than the number's throughput, so from
TIER_10000 up it is the same as ``"max"`` at 80 msg/s. ``bulk_rate_cap_for`` is a stored bulk's
cap as both the engine and a new submission's estimate read it.

``estimate_seconds`` turns a plan (how many recipients, at what rate, how much daily quota is
free now and when more frees up) into the time the send will take; ``shared_seconds`` does it
for a bulk that shares its number with bulks already sending (the scheduler's fair share).
``SendTiming`` is what the estimate needs to know of the engine: its rate margin, a throughput
that replaces every number's, how late its sends start, and the fixed cost of starting and
finishing a bulk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mindo_core.domain.errors import InvalidRequest
from mindo_core.domain.tiers import QUOTA_WINDOW, tier_or_default

__all__ = [
    "COEXISTENCE_THROUGHPUT_MPS",
    "DEFAULT_THROUGHPUT_MPS",
    "HIGH_THROUGHPUT_LEVEL",
    "HIGH_THROUGHPUT_MPS",
    "MIN_CAP_MPS",
    "QUOTA_WINDOW_SECONDS",
    "SEND_MARGIN_SECONDS",
    "Pacing",
    "PacingMode",
    "SendTiming",
    "Sharer",
    "bulk_rate_cap",
    "bulk_rate_cap_for",
    "check_cap",
    "effective_rate",
    "estimate_seconds",
    "parse_pacing",
    "shared_seconds",
    "throughput_for",
    "tier_spacing_seconds",
]

# How much the engine stretches every rate window per second by default (2 %);
# ``EngineSettings.margin_seconds`` says why, and bootstrap passes the engine's own to estimates.
SEND_MARGIN_SECONDS = 0.02

# Meta's ``throughput.level`` of a number upgraded to 1,000 messages/s.
HIGH_THROUGHPUT_LEVEL = "HIGH"
DEFAULT_THROUGHPUT_MPS = 80.0
HIGH_THROUGHPUT_MPS = 1000.0
COEXISTENCE_THROUGHPUT_MPS = 20.0

QUOTA_WINDOW_SECONDS = QUOTA_WINDOW.total_seconds()

# The slowest cap a bulk may ask for: one message every 100 s. Slower has no use (100,000
# recipients already take four months), and an absurd one ("1e-300") would never end.
MIN_CAP_MPS = 0.01

PacingMode = Literal["max", "tier", "cap"]

_FIELD = "pacing"


@dataclass(frozen=True, kw_only=True)
class Pacing:
    """A bulk's pacing: ``mode`` "max" or "tier", or "cap" with ``mps`` messages per second."""

    mode: PacingMode = "max"
    mps: float | None = None

    def __post_init__(self) -> None:
        if self.mode == "cap":
            if self.mps is None or not math.isfinite(self.mps) or self.mps <= 0:
                raise ValueError(f"a pacing cap needs a positive, finite mps, not {self.mps!r}")
        elif self.mps is not None:
            raise ValueError(f"pacing {self.mode!r} takes no mps")

    @classmethod
    def cap(cls, mps: float) -> Pacing:
        return cls(mode="cap", mps=mps)

    def __str__(self) -> str:
        """The text ``parse_pacing`` reads back: "max", "tier" or the cap ("25", "0.5")."""
        if self.mps is None:
            return self.mode
        short = f"{self.mps:g}"
        return short if float(short) == self.mps else repr(self.mps)


def parse_pacing(text: str | None) -> Pacing:
    """Read a client's ``pacing``: "max", "tier" or a decimal cap such as "25" or "0.5".

    Case and surrounding spaces are ignored. ``None`` and "" (proto3's unset string) mean "max".
    Anything else raises ``InvalidRequest`` naming the ``pacing`` field.
    """
    word = (text or "").strip().lower()
    if word in ("", "max"):
        return Pacing()
    if word == "tier":
        return Pacing(mode="tier")
    try:
        mps = float(word)
    except ValueError:
        raise _invalid(
            f"{text!r} is not 'max', 'tier' or a number of messages per second"
        ) from None
    if not math.isfinite(mps) or mps <= 0:
        raise _invalid(f"a messages-per-second cap must be a positive number, not {text!r}")
    return Pacing.cap(mps)


def check_cap(pacing: Pacing, *, throughput: float) -> Pacing:
    """``pacing`` when it is no cap, or a cap within [``MIN_CAP_MPS``, the number's
    ``throughput``]; else ``InvalidRequest`` on ``pacing`` naming the range."""
    if pacing.mps is None or MIN_CAP_MPS <= pacing.mps <= throughput:
        return pacing
    raise _invalid(
        f"a messages-per-second cap must be between {MIN_CAP_MPS:g} and {throughput:g} "
        f"(this number's throughput), not {pacing}"
    )


def _invalid(problem: str) -> InvalidRequest:
    return InvalidRequest.for_field(_FIELD, problem)


def throughput_for(level: str, *, shared_with_app: bool = False) -> float:
    """Messages per second Meta lets a number send, from its ``throughput.level``."""
    if shared_with_app:
        return COEXISTENCE_THROUGHPUT_MPS
    if level.strip().upper() == HIGH_THROUGHPUT_LEVEL:
        return HIGH_THROUGHPUT_MPS
    return DEFAULT_THROUGHPUT_MPS


_SECONDS_PER_TIER_DAY = 60.0  # Mindo's spacing is 60 s / daily limit


def tier_spacing_seconds(tier: str) -> float:
    """Seconds between two messages under "tier" pacing; 0.0 for an unlimited tier."""
    limit = tier_or_default(tier).daily_limit
    return 0.0 if limit is None else _SECONDS_PER_TIER_DAY / limit


def bulk_rate_cap(pacing: Pacing, tier: str) -> float | None:
    """The bulk's own limit in messages/s, before the number's throughput; None: no own limit.

    The scheduler gives a bulk with an own limit its own evenly spaced gate, so "tier" on
    TIER_250 really sends one message every 0.24 s.
    """
    if pacing.mode == "cap":
        return pacing.mps
    if pacing.mode == "tier":
        spacing = tier_spacing_seconds(tier)
        return None if spacing == 0.0 else 1.0 / spacing
    return None


def bulk_rate_cap_for(pacing_text: str | None, tier: str) -> float | None:
    """A stored bulk's own cap (``bulk_rate_cap``); a pacing stored before its rule changed and
    no longer readable counts as "max"."""
    try:
        pacing = parse_pacing(pacing_text)
    except InvalidRequest:
        pacing = Pacing()
    return bulk_rate_cap(pacing, tier)


def effective_rate(throughput_mps: float, pacing: Pacing, tier: str) -> float:
    """Messages per second a bulk alone on its number sends at: never above the throughput."""
    cap = bulk_rate_cap(pacing, tier)
    return throughput_mps if cap is None else min(throughput_mps, cap)


def estimate_seconds(
    recipients: int,
    rate: float,
    *,
    quota_available: int,
    quota_refills: Sequence[float] = (),
) -> float:
    """Seconds from now until the last of ``recipients`` sends at ``rate`` starts.

    Sending: the scheduler spaces sends evenly, so n sends at ``rate`` messages/s take
    (n - 1) / rate seconds (pass the rate its gates achieve, ``SendTiming.number_rate`` and
    ``bulk_rate``; a scheduler in burst mode may finish up to one second sooner).
    Quota: the first ``quota_available`` recipients fit the daily limit now. The k-th recipient
    beyond them goes when the k-th slot of the rolling 24 h window frees: ``quota_refills[k-1]``
    seconds from now (sorted; the times at which earlier recipients leave the window). Once those
    run out, the bulk's own sends free the slots, each 24 h after it went. Every recipient is
    counted against the quota: the conservative reading of Mindo's ``quota_needed``.
    """
    if recipients <= 0:
        return 0.0
    if rate <= 0:
        raise ValueError(f"rate must be positive, not {rate}")
    interval = 1.0 / rate
    available = max(0, quota_available)
    if recipients <= available:
        return (recipients - 1) * interval
    return _last_send_with_quota_waits(recipients, interval, available, quota_refills)


def _last_send_with_quota_waits(
    recipients: int, interval: float, available: int, refills: Sequence[float]
) -> float:
    # Only the recipients past the free quota need a loop; the ones before go back to back.
    starts: list[float] = [i * interval for i in range(available)]
    window = available + len(refills)
    if window == 0:
        return math.inf  # no quota at all, ever: the send cannot finish
    for i in range(available, recipients):
        beyond = i - available
        if beyond < len(refills):
            freed = refills[beyond]
        else:
            freed = starts[i - window] + QUOTA_WINDOW_SECONDS
        previous = starts[-1] + interval if starts else 0.0
        starts.append(max(previous, freed))
    return starts[-1]


@dataclass(frozen=True, kw_only=True)
class SendTiming:
    """How the engine's sends go, as far as an estimate needs to know. The defaults are the
    engine's and what ``bench/estimate_accuracy.py`` measured against the sandbox.

    ``margin_seconds``: every rate gate's span is stretched by this much per second (the
    engine's ``EngineSettings.margin_seconds``), so a gate set to ``rate`` lets through
    ``rate / (1 + margin_seconds)``. ``throughput_mps``: the engine's override of every number's
    throughput (``EngineSettings.throughput_mps``), None when the level decides.

    ``late_seconds``: time each send adds to the number's spacing by starting late. The
    number's gate makes late starts up within its limit (``rate_gate.NumberGate``), so this is
    0 while the engine keeps up; it is there for an engine that cannot (a machine too busy
    to send at the number's throughput), which the estimate cannot foresee by itself. Before
    the gate made lateness up, it cost 0.02-0.13 ms a send at 1,000/s on a shared 2-core
    machine (0.87-0.98 of the rate).

    ``overhead_seconds``: what a bulk takes besides its sends, 0.05-0.3 s from acceptance to
    the first send (storing the bulk, the engine waking, the first claim) and 0.02-0.06 s from
    the last send to ``completed_at`` (its answer, the last outcome write, the final status).
    """

    margin_seconds: float = SEND_MARGIN_SECONDS
    throughput_mps: float | None = None
    late_seconds: float = 0.0
    overhead_seconds: float = 0.2

    def __post_init__(self) -> None:
        if min(self.margin_seconds, self.late_seconds, self.overhead_seconds) < 0:
            raise ValueError("margin_seconds, late_seconds and overhead_seconds must be >= 0")
        if self.throughput_mps is not None and not 0 < self.throughput_mps < math.inf:
            raise ValueError("throughput_mps must be positive and finite")

    def throughput(self, level: str) -> float:
        """The number's throughput as the engine applies it (configured, not achieved)."""
        return self.throughput_mps or throughput_for(level)

    def number_rate(self, throughput: float) -> float:
        """Messages/s the number's gate, set to ``throughput``, achieves: whole messages in a
        second (Meta's rule: 2.5/s lets 2 through), its margin stretching every span, and each
        send's lateness added to it."""
        allowed = math.floor(throughput) if throughput >= 1 else throughput
        return 1.0 / ((1.0 + self.margin_seconds) / allowed + self.late_seconds)

    def bulk_rate(self, cap: float | None) -> float | None:
        """Messages/s a bulk's own pacing gate set to ``cap`` achieves (None: no cap)."""
        return None if cap is None else cap / (1.0 + self.margin_seconds)


@dataclass(frozen=True, kw_only=True)
class Sharer:
    """A bulk already on the number: how many recipients it still has to send, and its own
    pacing cap in messages/s (``bulk_rate_cap``; None: none)."""

    remaining: int
    max_rate: float | None = None


def shared_seconds(
    recipients: int,
    *,
    throughput: float,
    max_rate: float | None = None,
    others: Sequence[Sharer] = (),
) -> float:
    """Seconds from now until the last of ``recipients`` sends starts, when the bulk shares
    its number's ``throughput`` with ``others`` (bulks already queued or sending on it).

    The scheduler's fair share (``fair_share``) is round-robin, and a bulk capped below its
    share leaves the rest to the others: over time, a max-min fair split of the throughput.
    This follows that split as a fluid: the active bulks share until the first of them runs
    out, then the rest share again, until this bulk's ``recipients - 1`` sends after its first
    are done. Alone (no ``others``) that is ``(recipients - 1) / min(throughput, max_rate)``,
    as ``estimate_seconds`` without quota waits. Bulks submitted later are not foreseen: they
    slow this one down when they come.
    """
    if recipients <= 1:
        return 0.0
    if throughput <= 0 or (max_rate is not None and max_rate <= 0):
        raise ValueError("throughput and max_rate must be positive")
    mine = float(recipients - 1)
    lanes = [(float(o.remaining), o.max_rate) for o in others if o.remaining > 0]
    elapsed = 0.0
    while True:
        own, *shared = _max_min_fair(throughput, [max_rate, *(cap for _, cap in lanes)])
        lefts = [left / rate for (left, _), rate in zip(lanes, shared, strict=True)]
        if not lefts or mine / own <= min(lefts):
            return elapsed + mine / own
        step = min(lefts)  # the first of the others runs out: the rest share again
        elapsed += step
        mine -= step * own
        lanes = [
            (left - step * rate, cap)
            for (left, cap), rate in zip(lanes, shared, strict=True)
            if left / rate > step
        ]


def _max_min_fair(total: float, caps: Sequence[float | None]) -> list[float]:
    """``total`` split over lanes with optional caps: equal shares, a lane capped below its
    share keeping only its cap, the rest split among the others again."""
    limits = [math.inf if cap is None else cap for cap in caps]
    rates = [0.0] * len(limits)
    left, count = total, len(limits)
    for i in sorted(range(len(limits)), key=limits.__getitem__):
        rates[i] = min(limits[i], left / count)
        left -= rates[i]
        count -= 1
    return rates
