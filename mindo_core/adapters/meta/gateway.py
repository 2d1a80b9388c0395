"""``MetaGateway`` over a lean kept-alive HTTP client: Meta's Graph API, or anything speaking
its protocol.

A bulk send at 1,000 msg/s with real network latency needs hundreds of requests in flight, at a
small CPU cost each: ``http_client`` rather than aiohttp's or httpx's general clients, which
cost several times more per request (``python -m bench meta_transport`` measures them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final
from urllib.parse import quote

from yarl import URL

from mindo_core.adapters.meta import parsing
from mindo_core.adapters.meta.errors import UnexpectedMetaResponse, error_from_response
from mindo_core.adapters.meta.http_client import ConnectFailed, KeptAliveClient
from mindo_core.adapters.meta.paging import PageTrail
from mindo_core.domain.errors import InvalidRequest, MetaError, MetaUnavailable
from mindo_core.ports.meta import MetaSendResult, PhoneNumberInfo, TemplateInfo

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "HttpMetaGateway"]

DEFAULT_BASE_URL: Final = "https://graph.facebook.com"
DEFAULT_API_VERSION: Final = "v21.0"
_VERSION = re.compile(r"v?(\d+\.\d+)")
_TEMPLATES_PAGE_SIZE: Final = 100
_REDACTED: Final = "[redacted]"
_MAX_CACHED_URLS: Final = 1024
_READ_HEADERS: Final = {
    "Accept": "application/json",
    "Accept-Encoding": "identity",
    "User-Agent": "mindo",
}
_SEND_HEADERS: Final = {**_READ_HEADERS, "Content-Type": "application/json"}


class HttpMetaGateway:
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
        self._send_timeout = send_timeout or total_timeout
        self._list_timeout = list_timeout or total_timeout
        self._max_connections = max_connections
        self._max_pages = max_pages
        self._http: KeptAliveClient | None = None
        # The messages URL of each number sent from: built once, not once per message.
        self._messages_urls: dict[str, URL] = {}

    def __repr__(self) -> str:
        return f"HttpMetaGateway(root={str(self._root)!r})"

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
        bound = self._send_timeout
        if max_seconds is not None and max_seconds < bound:
            bound = max_seconds
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
        http, self._http = self._http, None
        if http is not None:
            http.close()

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

    async def _call(
        self,
        method: str,
        url: URL,
        access_token: str,
        body: bytes | None,
        bound: float,
    ) -> Mapping[str, Any]:
        _check_token(access_token)
        try:
            status, raw = await self._exchange(method, url, access_token, body, bound)
        except (ConnectionError, TimeoutError) as exc:
            # Not chained: nothing vouches that the cause's text holds no secret.
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
        bound: float,
    ) -> tuple[int, bytes]:
        headers = _SEND_HEADERS if body is not None else _READ_HEADERS
        headers = {**headers, "Authorization": f"Bearer {access_token}"}
        # Redirects are not followed: the bearer header must not travel to another origin.
        answer = await self._client().request(method, url, headers, body, within=bound)
        return answer.status, answer.body

    def _client(self) -> KeptAliveClient:
        if self._http is None:
            self._http = KeptAliveClient(
                max_connections=self._max_connections, connect_timeout=self._connect_timeout
            )
        return self._http


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
    maybe_sent = not isinstance(exc, ConnectFailed)
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
