"""``MetaGateway`` over aiohttp's client: Meta's Graph API, or anything speaking its protocol.

aiohttp rather than httpx because a bulk send at 1,000 msg/s with real network latency needs
hundreds of requests in flight, and on this project's machines aiohttp sustained several times
httpx's rate there (``python -m bench`` measures it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final
from urllib.parse import quote

import aiohttp
from yarl import URL

from mindo_core.adapters.meta import parsing
from mindo_core.adapters.meta.errors import UnexpectedMetaResponse, error_from_response
from mindo_core.adapters.meta.paging import PageTrail
from mindo_core.domain.errors import InvalidRequest, MetaError, MetaUnavailable
from mindo_core.ports.meta import MetaSendResult, PhoneNumberInfo, TemplateInfo

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "AiohttpMetaGateway"]

DEFAULT_BASE_URL: Final = "https://graph.facebook.com"
DEFAULT_API_VERSION: Final = "v21.0"
_VERSION = re.compile(r"v?(\d+\.\d+)")
_TEMPLATES_PAGE_SIZE: Final = 100
_REDACTED: Final = "[redacted]"
_MAX_CACHED_URLS: Final = 1024


class AiohttpMetaGateway:
    """One connection pool for every call; created on first use, inside the running loop."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        connect_timeout: float = 5.0,
        total_timeout: float = 30.0,
        send_timeout: float | None = None,
        list_timeout: float | None = None,
        max_connections: int = 512,
        max_pages: int = 1000,
    ) -> None:
        """Timeouts per call kind: a send (``send_timeout``), each page of a listing
        (``list_timeout``); ``total_timeout`` for a kind given none."""
        self._root = _versioned_root(base_url, api_version)
        self._connect_timeout = connect_timeout
        self._timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
        self._send_timeout = send_timeout or total_timeout
        self._send_call_timeout = self._call_timeout(self._send_timeout)
        self._list_timeout = self._call_timeout(list_timeout or total_timeout)
        self._max_connections = max_connections
        self._max_pages = max_pages
        self._session: aiohttp.ClientSession | None = None
        # The messages URL of each number sent from: built once, not once per message.
        self._messages_urls: dict[str, URL] = {}

    def __repr__(self) -> str:
        return f"AiohttpMetaGateway(root={str(self._root)!r})"

    async def send_template(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        payload: Mapping[str, Any],
        max_seconds: float | None = None,
    ) -> MetaSendResult:
        url = self._messages_urls.get(phone_number_id)
        if url is None:
            url = self._url(_segment("phone_number_id", phone_number_id), "messages")
            if len(self._messages_urls) >= _MAX_CACHED_URLS:
                self._messages_urls.clear()
            self._messages_urls[phone_number_id] = url
        body = json.dumps(payload, separators=(",", ":")).encode()
        bound = self._send_call_timeout
        if max_seconds is not None and max_seconds < self._send_timeout:
            bound = self._call_timeout(max_seconds)
        document = await self._call("POST", url, access_token, body, bound)
        return parsing.send_result(document)

    async def list_phone_numbers(
        self, *, waba_id: str, access_token: str
    ) -> Sequence[PhoneNumberInfo]:
        url = self._url(_segment("waba_id", waba_id), "phone_numbers").with_query(
            fields=parsing.PHONE_NUMBER_FIELDS
        )
        items = await self._all_pages(url, access_token)
        return [parsing.phone_number_info(item) for item in items]

    async def list_templates(self, *, waba_id: str, access_token: str) -> Sequence[TemplateInfo]:
        url = self._url(_segment("waba_id", waba_id), "message_templates").with_query(
            fields=parsing.TEMPLATE_FIELDS, limit=_TEMPLATES_PAGE_SIZE
        )
        items = await self._all_pages(url, access_token)
        return [parsing.template_info(item) for item in items]

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # ----------------------------------------------------------------------------------------

    def _url(self, *segments: str) -> URL:
        return URL(f"{self._root}/{'/'.join(segments)}", encoded=True)

    async def _all_pages(self, first: URL, access_token: str) -> list[Mapping[str, Any]]:
        trail = PageTrail(first=first, origin=self._root, max_pages=self._max_pages)
        items: list[Mapping[str, Any]] = []
        url: URL | None = first
        while url is not None:
            document = await self._call("GET", url, access_token, None, self._list_timeout)
            items.extend(parsing.page_items(document, "Graph listing"))
            url = trail.next_url(document)
        return items

    def _call_timeout(self, total: float) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=total, sock_connect=min(total, self._connect_timeout))

    async def _call(
        self,
        method: str,
        url: URL,
        access_token: str,
        body: bytes | None,
        bound: aiohttp.ClientTimeout,
    ) -> Mapping[str, Any]:
        _check_token(access_token)
        try:
            status, raw = await self._exchange(method, url, access_token, body, bound)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Not chained: the cause's text is aiohttp's, and nothing vouches it holds no secret.
            raise _unreachable(exc, access_token) from None
        if 200 <= status < 300:
            document = parsing.json_object(raw, f"HTTP {status} to {method}")
            if not isinstance(document.get("error"), dict):
                return document
        raise _redacted(_error_for(status, raw), access_token)

    async def _exchange(
        self,
        method: str,
        url: URL,
        access_token: str,
        body: bytes | None,
        bound: aiohttp.ClientTimeout,
    ) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        # Redirects are not followed: the bearer header must not travel to another origin.
        async with self._client().request(
            method, url, data=body, headers=headers, allow_redirects=False, timeout=bound
        ) as response:
            return response.status, await response.read()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session


def _versioned_root(base_url: str, api_version: str) -> URL:
    match = _VERSION.fullmatch(api_version.strip())
    if match is None:
        raise ValueError(f"api_version must look like 'v21.0' or '21.0', not {api_version!r}")
    root = URL(base_url.rstrip("/"))
    if not root.is_absolute() or root.scheme not in ("http", "https"):
        raise ValueError(f"base_url must be an absolute http(s) URL, not {base_url!r}")
    return URL(f"{root}/v{match.group(1)}", encoded=True)


def _segment(name: str, value: str) -> str:
    """An id as one path segment: it can neither climb nor add segments nor a query."""
    if not value or value.strip(".") == "":
        raise InvalidRequest.for_field(name, "must be a non-empty id")
    return quote(value, safe="")


def _check_token(access_token: str) -> None:
    """A token is visible ASCII; anything else would be refused as a header (or worse, split
    one). The message never shows the token."""
    if not access_token or not (access_token.isascii() and access_token.isprintable()):
        raise InvalidRequest.for_field("access_token", "must be non-empty visible ASCII")
    if " " in access_token:
        raise InvalidRequest.for_field("access_token", "must not contain spaces")


def _error_for(status: int, raw: bytes) -> MetaError | MetaUnavailable:
    if 300 <= status < 400:
        return UnexpectedMetaResponse(f"HTTP {status}: redirects are not followed")
    return error_from_response(status, raw)


def _unreachable(exc: BaseException, access_token: str) -> MetaUnavailable:
    if isinstance(exc, TimeoutError):
        return MetaUnavailable("no answer before the timeout", maybe_sent=True)
    reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
    # A connection that could not be made sent nothing; one cut once made may have.
    maybe_sent = not isinstance(exc, aiohttp.ClientConnectorError)
    return MetaUnavailable(_scrub(reason, access_token), maybe_sent=maybe_sent)


def _redacted(error: MetaError | MetaUnavailable, access_token: str) -> MetaError | MetaUnavailable:
    """Meta never echoes the token, but a proxy or a broken server might: it is scrubbed from
    whatever text of theirs reaches an exception. ``MetaUnavailable`` reasons are our own text."""
    if not isinstance(error, MetaError) or not access_token:
        return error
    detail = error.detail
    scrubbed = replace(
        detail,
        title=_scrub(detail.title, access_token),
        details=_scrub(detail.details, access_token),
        fbtrace_id=_scrub(detail.fbtrace_id, access_token) if detail.fbtrace_id else None,
        extra={key: _scrub(value, access_token) for key, value in detail.extra.items()},
    )
    return MetaError(scrubbed, retryable=error.retryable)


def _scrub(text: str, access_token: str) -> str:
    return text.replace(access_token, _REDACTED) if access_token else text
