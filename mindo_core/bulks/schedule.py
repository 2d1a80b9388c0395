"""When a scheduled bulk may start: ``send_at`` as clients write it, and the bounds it must keep.

``send_at`` is ISO 8601 with a UTC offset ("2025-11-17T09:00:00-03:00", or "…Z"): a time without
one would be read in some server's zone, so it is refused. It may be now (a second's skew on the
client's clock is forgiven) up to ``MAX_AHEAD`` (30 days; a campaign further out is better
submitted nearer its date, when the number's tier and the quota are known).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from mindo_core.domain.errors import InvalidRequest, cut

__all__ = ["CLOCK_SKEW", "MAX_AHEAD", "parse_send_at"]

MAX_AHEAD: Final = timedelta(days=30)
CLOCK_SKEW: Final = timedelta(seconds=1)
_FIELD: Final = "send_at"
_ECHOED_CHARS: Final = 60


def parse_send_at(text: str, *, now: datetime) -> datetime:
    """``text`` as an aware UTC time within [now − ``CLOCK_SKEW``, now + ``MAX_AHEAD``];
    else ``InvalidRequest`` on ``send_at`` saying why."""
    try:
        send_at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _invalid(
            f"{cut(text, _ECHOED_CHARS)!r} is not an ISO 8601 date and time, such as "
            "2025-11-17T09:00:00-03:00"
        ) from None
    if send_at.tzinfo is None or send_at.utcoffset() is None:
        raise _invalid(f"{cut(text, _ECHOED_CHARS)!r} has no UTC offset (add Z or -03:00)")
    send_at = send_at.astimezone(UTC)
    if send_at < now - CLOCK_SKEW:
        raise _invalid(f"{_iso(send_at)} is in the past (now: {_iso(now)})")
    if send_at > now + MAX_AHEAD:
        raise _invalid(f"{_iso(send_at)} is more than {MAX_AHEAD.days} days ahead")
    return max(send_at, now)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _invalid(problem: str) -> InvalidRequest:
    return InvalidRequest.for_field(_FIELD, problem)
