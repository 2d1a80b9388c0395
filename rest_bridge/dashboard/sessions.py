"""Dashboard sessions: an opaque random id in the cookie, the API key kept server-side.

The cookie carries only ``secrets.token_urlsafe(32)``; the key it stands for lives in this
process's memory and never reaches the browser, so no script and no stolen cookie jar backup
reveals it. A session ends on sign-out, after ``idle`` without a request, after ``lifetime`` in
all, or when the service refuses its key (revoked, expired). Sessions do not survive a bridge
restart, and several bridge processes need sticky routing (docs/dashboard.md).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

COOKIE = "mindo_dashboard"


@dataclass(frozen=True, kw_only=True)
class SessionPolicy:
    idle: timedelta = timedelta(hours=1)
    lifetime: timedelta = timedelta(hours=12)
    # Oldest sessions are dropped past this: sign-ins cannot grow the bridge's memory unbounded.
    max_sessions: int = 10_000


@dataclass(frozen=True, kw_only=True)
class Session:
    id: str
    api_key: str = field(repr=False)
    csrf_token: str = field(repr=False)
    organisation_name: str
    key_name: str
    started: float
    last_seen: float

    def csrf_matches(self, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token.encode(), token.encode())


class SessionStore:
    """Live sessions by id, oldest first; ``clock`` is monotonic seconds."""

    def __init__(
        self, policy: SessionPolicy | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._policy = policy or SessionPolicy()
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def start(self, *, api_key: str, organisation_name: str, key_name: str) -> Session:
        now = self._clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            api_key=api_key,
            csrf_token=secrets.token_urlsafe(32),
            organisation_name=organisation_name,
            key_name=key_name,
            started=now,
            last_seen=now,
        )
        self._sessions[session.id] = session
        while len(self._sessions) > self._policy.max_sessions:
            self._sessions.popitem(last=False)
        return session

    def find(self, session_id: str) -> Session | None:
        """The live session with this id, its idle clock restarted; None when unknown or over."""
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        idle = now - session.last_seen > self._policy.idle.total_seconds()
        too_old = now - session.started > self._policy.lifetime.total_seconds()
        if idle or too_old:
            del self._sessions[session_id]
            return None
        touched = replace(session, last_seen=now)
        self._sessions[session_id] = touched
        self._sessions.move_to_end(session_id)
        return touched

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)
