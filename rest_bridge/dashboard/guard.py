"""Who is signed in, which forms are genuine, and what a failure looks like in a browser.

Every dashboard request passes ``guard``: a missing, unknown or expired session redirects to
the sign-in page (a stream answers 401 instead), the service refusing the session's key ends
the session, any other failure is an HTML page with the service's message (escaped, bounded)
and never a stack trace. Every POST must carry the session's CSRF token in its form
(``csrf_token``); the sign-in form, which has no session yet, carries the token of a short-lived
cookie of its own (double submit). Every answer forbids framing, inline scripts and caching.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping

from aiohttp import web
from multidict import MultiDictProxy

from rest_bridge.dashboard.rendering import render
from rest_bridge.dashboard.sessions import COOKIE, Session, SessionStore
from rest_bridge.problems import ApiError
from rest_bridge.routes.spec import Handler

logger = logging.getLogger(__name__)

SESSIONS = web.AppKey("dashboard_sessions", SessionStore)
PREFIX = "/dashboard"
SIGN_IN_PATH = f"{PREFIX}/sign-in"
SIGN_IN_COOKIE = "mindo_dashboard_sign_in"
CSRF_FIELD = "csrf_token"
# Error texts echoed on a page are cut here (they may quote what a user typed).
MAX_ECHO = 300

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInNeeded(Exception):
    """No live session: a page redirects to the sign-in, a stream answers 401."""


class FormRefused(Exception):
    """A POST without the right CSRF token."""


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except SignInNeeded:
        response = _to_sign_in(request)
    except FormRefused:
        response = error_page(
            request, 403, "This form has expired or did not come from this page. Reload it."
        )
    except ApiError as problem:
        if problem.status == 401:
            _end_session(request)
            response = _to_sign_in(request)
        else:
            response = error_page(request, problem.status, problem_text(problem))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_page(request, exc.status, exc.reason)
    except Exception:
        logger.exception("Unhandled error on the dashboard")
        response = error_page(request, 500, "Something went wrong on our side. Try again.")
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def problem_text(problem: ApiError) -> str:
    body = problem.body
    text = body.get("error") if isinstance(body, dict) else None
    if not isinstance(text, str):
        text = f"The service answered {problem.status}."
    return text[:MAX_ECHO]


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    return render(
        request, "error.html", {"status": status, "message": message[:MAX_ECHO]}, status=status
    )


def session_of(request: web.Request) -> Session:
    """The request's live session, or ``SignInNeeded``."""
    session_id = request.cookies.get(COOKIE)
    session = request.app[SESSIONS].find(session_id) if session_id else None
    if session is None:
        raise SignInNeeded
    return session


async def checked_form(request: web.Request, session: Session) -> MultiDictProxy[str | bytes]:
    form = await request.post()
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not session.csrf_matches(token):
        raise FormRefused
    return form  # type: ignore[return-value]


def sign_in_token(request: web.Request) -> str:
    """The sign-in form's token: the one in its cookie, or a new one (set by ``with_cookie``)."""
    token = request.cookies.get(SIGN_IN_COOKIE, "")
    return token if len(token) >= 32 else secrets.token_urlsafe(32)


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=f"{PREFIX}/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=f"{PREFIX}/")


def see_other(location: str) -> web.Response:
    """A redirect after a form (the browser GETs ``location``)."""
    return web.Response(status=303, headers={"Location": location})


def _end_session(request: web.Request) -> None:
    session_id = request.cookies.get(COOKIE)
    if session_id:
        request.app[SESSIONS].end(session_id)


def _to_sign_in(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Accept") == "text/event-stream":
        response: web.StreamResponse = web.Response(status=401, text="Sign in again.")
    else:
        response = see_other(SIGN_IN_PATH)
    clear_cookie(response, COOKIE)
    return response
