"""``AiohttpCallbackSender``: posts status callbacks to the organisations' endpoints.

One session for the process, a timeout per POST, no redirects followed (a redirect could lead
into the operator's own network, which the URL check keeps out). An answer's body is not read
beyond what the connection needs; the error kept with an attempt names the failure, never the
body or the URL's query.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from mindo_core.ports.callbacks import CallbackResponse

USER_AGENT = "Mindo-Callbacks/1"


class AiohttpCallbackSender:
    def __init__(self, *, timeout_seconds: float = 10.0, connections: int = 100) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> CallbackResponse:
        try:
            async with self._client().post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as response:
                await response.read()
                return CallbackResponse(
                    status_code=response.status,
                    retry_after=response.headers.get("Retry-After"),
                    error=None if response.status < 300 else f"HTTP {response.status}",
                )
        except TimeoutError:
            return CallbackResponse(status_code=None, error="timed out")
        except aiohttp.ClientError as error:
            return CallbackResponse(status_code=None, error=type(error).__name__)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
