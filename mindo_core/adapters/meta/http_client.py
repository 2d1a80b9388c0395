"""A lean HTTP/1.1 client for the Graph API: kept-alive connections, llhttp's parser (httptools).

A send to Meta is one small POST and one small JSON answer, at up to thousands a second per
process. aiohttp's general client spent about 0.13 ms of CPU on each (cookies, trace hooks,
multidicts, a request object per call): more than a third of a bulk worker's CPU per message.
This client does only what the Graph API needs: one request written at once, one answer read
by a C parser, the connection kept for the next request of the same origin. It follows no
redirect, keeps no cookie, reads no proxy setting (as the aiohttp session did not) and bounds
the answer's size. What failed is told apart, because the engine's retry depends on it:
``ConnectFailed`` (nothing was sent) from ``ConnectionCut`` (the request may have arrived).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, cast

import httptools
from yarl import URL

__all__ = ["ConnectFailed", "ConnectionCut", "HttpAnswer", "KeptAliveClient"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# Connections idle for longer are not reused: servers close idle connections after a while,
# and a request written just as one closes would be lost with an unknown outcome.
_KEEP_IDLE_SECONDS: Final = 15.0
_MAX_ANSWER_BYTES: Final = 16 * 1024 * 1024
# What one exchange may receive in all: the answer's body and its head and framing (llhttp
# buffers a header's value however long it grows).
_MAX_RECEIVED_BYTES: Final = _MAX_ANSWER_BYTES + 256 * 1024
_ADDRESSES_SECONDS: Final = 10.0  # as aiohttp's resolver cache


class ConnectFailed(ConnectionError):
    """No connection could be made: nothing was sent."""


class ConnectionCut(ConnectionError):
    """The connection failed once the request was (perhaps) written: it may have arrived."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: URL) -> _Origin:
        scheme, host = url.scheme, url.raw_host  # raw: an international name in ASCII
        if scheme not in _DEFAULT_PORTS or not host:
            raise ValueError(f"not an http(s) URL: {url.scheme}://…")
        return cls(scheme, host, url.port or _DEFAULT_PORTS[scheme])

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


class KeptAliveClient:
    """At most ``max_connections`` requests at once, on connections kept per origin."""

    def __init__(self, *, max_connections: int, connect_timeout: float) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._connect_timeout = connect_timeout
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._addresses: dict[_Origin, tuple[float, list[str]]] = {}
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    async def request(
        self,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        within: float,
    ) -> HttpAnswer:
        """The answer to one request, ``within`` seconds from now, connecting included
        (``TimeoutError`` after)."""
        origin = _Origin.of(url)
        head = _request_head(method, url, origin, headers, body)
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(within), self._slots:
                connection = self._kept(origin) or await self._connect(origin)
                answer = await connection.exchange(head, body)
        except BaseException as exc:
            if connection is None:
                if isinstance(exc, TimeoutError):
                    raise ConnectFailed("no connection before the timeout") from None
                raise
            connection.close()
            raise
        if connection.reusable and not self._closed:
            self._idle.setdefault(origin, []).append(connection)
        else:
            connection.close()
        return answer

    def close(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _kept(self, origin: _Origin) -> _Connection | None:
        """The most recently used open connection to ``origin``; stale ones are closed."""
        connections = self._idle.get(origin)
        now = time.monotonic()
        while connections:
            connection = connections.pop()
            if connection.open and now - connection.idle_since < _KEEP_IDLE_SECONDS:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        tls = self._tls_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(self._connect_timeout):
                return await self._first_answering(origin, tls)
        except (OSError, TimeoutError) as exc:
            self._addresses.pop(origin, None)  # resolved again for the next connection
            raise ConnectFailed(f"cannot connect to {origin.host}:{origin.port}: {exc}") from None

    async def _first_answering(self, origin: _Origin, tls: ssl.SSLContext | None) -> _Connection:
        """A connection to the first of the origin's addresses that accepts one."""
        loop = asyncio.get_running_loop()
        failure: OSError | None = None
        for address in await self._resolved(origin):
            try:
                _, connection = await loop.create_connection(
                    _Connection,
                    address,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls else None,
                )
                return connection
            except OSError as exc:
                failure = exc
        raise failure or OSError(f"{origin.host} has no address")

    async def _resolved(self, origin: _Origin) -> list[str]:
        """The origin's addresses, looked up again after ``_ADDRESSES_SECONDS``: a bulk's
        start opens hundreds of connections, one name lookup serves them all."""
        now = time.monotonic()
        known = self._addresses.get(origin)
        if known is not None and now - known[0] < _ADDRESSES_SECONDS:
            return known[1]
        loop = asyncio.get_running_loop()
        found = await loop.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))
        self._addresses[origin] = (now, addresses)
        return addresses

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


def _request_head(
    method: str, url: URL, origin: _Origin, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    lines = [f"{method} {url.raw_path_qs} HTTP/1.1", f"Host: {origin.host_header}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines += ["", ""]
    return "\r\n".join(lines).encode("latin-1")


class _Connection(asyncio.Protocol):
    """One connection: one request at a time, its answer read by llhttp as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.open = True
        self.reusable = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[HttpAnswer] | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._encoding = b""
        self._headers_done = False
        self._delimited = False  # by a Content-Length or chunks, not by the connection's end
        self._received = 0

    async def exchange(self, head: bytes, body: bytes | None) -> HttpAnswer:
        if self.transport is None or not self.open:
            raise ConnectionCut("the connection closed before the request")
        self._waiter = asyncio.get_running_loop().create_future()
        self.reusable = False
        self._received = 0
        self.transport.write(head + body if body else head)
        try:
            return await self._waiter
        finally:
            self._waiter = None
            self.idle_since = time.monotonic()

    def close(self) -> None:
        self.open = False
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing was asked: the connection is out of step
            self.close()
            return
        self._received += len(data)
        if self._received > _MAX_RECEIVED_BYTES:
            self._fail(ConnectionCut(f"answer longer than {_MAX_ANSWER_BYTES} bytes"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionCut(f"malformed answer: {exc}"))

    def eof_received(self) -> bool | None:
        self.open = False
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self._waiter is None or self._waiter.done():
            return
        if exc is None and self._headers_done and not self._delimited:
            self._complete()  # an answer without a length ends where the connection does
        else:
            self._fail(ConnectionCut(f"the connection closed before the answer ({exc or 'EOF'})"))

    # llhttp's callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._waiter is None or self._waiter.done():  # a second answer: out of step
            self.close()
        self._chunks.clear()
        self._size = 0
        self._encoding = b""
        self._headers_done = False
        self._delimited = False

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-encoding":
            self._encoding = value.strip().lower()
        elif name in (b"content-length", b"transfer-encoding"):
            self._delimited = True

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > _MAX_ANSWER_BYTES:
            self._fail(ConnectionCut(f"answer longer than {_MAX_ANSWER_BYTES} bytes"))
            return
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._parser.get_status_code() < 200:
            return  # an interim answer (100 Continue): the real one follows
        self.reusable = self.open and bool(self._parser.should_keep_alive())
        self._complete()

    # ------------------------------------------------------------------------------------------

    def _complete(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            body = _decoded(b"".join(self._chunks), self._encoding)
        except (zlib.error, ValueError) as exc:
            self._fail(ConnectionCut(f"undecodable answer: {exc}"))
            return
        waiter.set_result(HttpAnswer(self._parser.get_status_code(), body))

    def _fail(self, error: ConnectionCut) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self.close()


def _decoded(body: bytes, encoding: bytes) -> bytes:
    """The body without its content coding (none is asked for; a server may still use one)."""
    if encoding in (b"", b"identity"):
        return body
    if encoding in (b"gzip", b"x-gzip", b"deflate"):
        decoder = zlib.decompressobj(wbits=47)  # 47: zlib or gzip header, detected
        decoded = decoder.decompress(body, _MAX_ANSWER_BYTES + 1)  # a small body may inflate
        if len(decoded) > _MAX_ANSWER_BYTES:
            raise ValueError(f"answer longer than {_MAX_ANSWER_BYTES} bytes once decoded")
        if not decoder.eof:
            raise ValueError("truncated compressed answer")
        return decoded
    raise ValueError(f"content coding {encoding[:32]!r} is not supported")
