"""Dashboard sessions: opaque ids, idle and absolute expiry, a bounded number, CSRF tokens."""

from __future__ import annotations

from datetime import timedelta

from rest_bridge.dashboard.sessions import SessionPolicy, SessionStore

KEY = "mindo_abcdefghijklmnopqrstuvwx"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def store(clock: Clock, **policy: object) -> SessionStore:
    return SessionStore(SessionPolicy(**policy), clock=clock)  # type: ignore[arg-type]


def test_a_session_id_is_random_and_says_nothing_of_the_key() -> None:
    sessions = store(Clock())
    first = sessions.start(api_key=KEY, organisation_name="Acme", key_name="ci")
    second = sessions.start(api_key=KEY, organisation_name="Acme", key_name="ci")
    assert first.id != second.id
    assert first.csrf_token != second.csrf_token
    assert KEY not in first.id
    assert len(first.id) >= 40
    assert KEY not in repr(first)


def test_a_session_idle_too_long_is_over_and_a_used_one_is_not() -> None:
    clock = Clock()
    sessions = store(clock, idle=timedelta(minutes=10), lifetime=timedelta(hours=1))
    session = sessions.start(api_key=KEY, organisation_name="Acme", key_name="ci")
    clock.now += 9 * 60
    assert sessions.find(session.id) is not None
    clock.now += 9 * 60  # 18 minutes in, 9 since the last request
    assert sessions.find(session.id) is not None
    clock.now += 11 * 60
    assert sessions.find(session.id) is None
    assert len(sessions) == 0


def test_a_session_ends_after_its_lifetime_however_busy() -> None:
    clock = Clock()
    sessions = store(clock, idle=timedelta(minutes=10), lifetime=timedelta(minutes=30))
    session = sessions.start(api_key=KEY, organisation_name="Acme", key_name="ci")
    for _ in range(5):
        clock.now += 5 * 60
        assert sessions.find(session.id) is not None
    clock.now += 6 * 60
    assert sessions.find(session.id) is None


def test_past_the_limit_the_least_recently_used_session_is_dropped() -> None:
    clock = Clock()
    sessions = store(clock, max_sessions=2)
    oldest = sessions.start(api_key=KEY, organisation_name="Acme", key_name="a")
    middle = sessions.start(api_key=KEY, organisation_name="Acme", key_name="b")
    assert sessions.find(oldest.id) is not None  # now the most recently used
    newest = sessions.start(api_key=KEY, organisation_name="Acme", key_name="c")
    assert sessions.find(middle.id) is None
    assert sessions.find(oldest.id) is not None
    assert sessions.find(newest.id) is not None


def test_sign_out_ends_the_session_and_the_csrf_token_must_match_exactly() -> None:
    sessions = store(Clock())
    session = sessions.start(api_key=KEY, organisation_name="Acme", key_name="ci")
    assert session.csrf_matches(session.csrf_token)
    assert not session.csrf_matches(session.csrf_token[:-1])
    assert not session.csrf_matches("")
    sessions.end(session.id)
    assert sessions.find(session.id) is None
