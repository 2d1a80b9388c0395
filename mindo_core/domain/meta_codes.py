"""Meta's error codes, and what each asks of a sender: one table, plain data.

The core reads it (the bulk engine turns a refused send into a ``retry_policy.SendOutcome``
with it); the Meta adapter reads it to mark an error retryable. Anything not listed is a
permanent error for that one request (``PERMANENT``). Sources: §3 of shared/meta-cloud-api.md
("Recommended handling").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["META_CODE_POLICIES", "PERMANENT", "MetaCodePolicy", "policy_for"]


@dataclass(frozen=True, kw_only=True)
class MetaCodePolicy:
    """What one Meta error code asks of a sender.

    ``retryable``: the same request may succeed later. ``max_retries``: a cap the code itself
    imposes (None: the caller's own policy decides). ``stops_campaign``: nothing else sent with
    this account/token/template can succeed either, so a bulk send stops instead of burning
    through its recipients. ``slows_down``: the sender is going too fast and must lower its rate.
    ``recipient_scoped``: only this recipient is throttled; the others go on at full speed.
    """

    retryable: bool = False
    max_retries: int | None = None
    stops_campaign: bool = False
    slows_down: bool = False
    recipient_scoped: bool = False


PERMANENT = MetaCodePolicy()
_RETRY = MetaCodePolicy(retryable=True)
_RETRY_ONCE = MetaCodePolicy(retryable=True, max_retries=1)
_RETRY_SLOWER = MetaCodePolicy(retryable=True, slows_down=True)
_RETRY_RECIPIENT_LATER = MetaCodePolicy(retryable=True, slows_down=True, recipient_scoped=True)
_SLOW_DOWN = MetaCodePolicy(slows_down=True)
_STOP = MetaCodePolicy(stops_campaign=True)

META_CODE_POLICIES: Mapping[int, MetaCodePolicy] = MappingProxyType(
    {
        0: _STOP,  # AuthException: token expired or invalidated
        1: _RETRY_ONCE,  # invalid request or possible server error
        2: _RETRY,  # temporary downtime or overload
        3: _STOP,  # capability or permissions issue
        4: _RETRY_SLOWER,  # app-level API call rate limit
        10: _STOP,  # permission not granted or removed
        33: _STOP,  # business phone number deleted
        190: _STOP,  # access token expired
        **dict.fromkeys(range(200, 300), _STOP),  # API permission issues
        368: _STOP,  # WABA restricted for a policy violation
        80007: _RETRY_SLOWER,  # WABA-level rate limit
        130429: _RETRY_SLOWER,  # Cloud API throughput reached
        131000: _RETRY,  # "Something went wrong"
        131016: _RETRY,  # service temporarily unavailable
        131031: _STOP,  # account locked
        131042: _STOP,  # payment / billing issue
        131045: _STOP,  # phone number registration error
        131048: _SLOW_DOWN,  # spam rate limit: slow down, no tight retry
        131056: _RETRY_RECIPIENT_LATER,  # pair rate: that recipient after 4^X s
        131057: _RETRY,  # account in maintenance mode (≤ 1 min)
        132015: _STOP,  # template paused for low quality
        132016: _STOP,  # template permanently disabled
        133004: _RETRY,  # server temporarily unavailable
        133010: _STOP,  # phone number not registered
        134101: _RETRY,  # (MM API) template still syncing
    }
)


def policy_for(meta_code: int) -> MetaCodePolicy:
    return META_CODE_POLICIES.get(meta_code, PERMANENT)
