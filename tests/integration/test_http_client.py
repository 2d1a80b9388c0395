"""``KeptAliveClient`` against real servers on 127.0.0.1: raw ``asyncio`` servers written here,
so that each test chooses the answer's bytes exactly, and counts the connections it accepted."""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from yarl import URL

from mindo_core.adapters.meta.http_client import (
    ConnectFailed,
    ConnectionCut,
    HttpAnswer,
    KeptAliveClient,
)

# The answer's size bound the module documents (16 MiB), written out rather than imported.
LIMIT = 16 * 1024 * 1024
WITHIN = 5.0


# --------------------------------------------------------------------------------------------
# A raw HTTP server: each test says what it does on each connection


@dataclass(frozen=True)
class Received:
    request_line: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None


async def read_request(reader: asyncio.StreamReader) -> Received | None:
    """The next request on the connection, or None when the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    received = Received(request_line, headers, b"")
    body = await reader.readexactly(int(received.header("Content-Length") or 0))
    return Received(request_line, headers, body)


def answer(body: bytes = b"", status: str = "200 OK", headers: str = "") -> bytes:
    """An HTTP/1.1 answer with a Content-Length; ``headers`` lines each end with CRLF."""
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body


@dataclass
class Connection:
    number: int  # 1 for the server's first accepted connection
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


Handler = Callable[["RawServer", Connection], Awaitable[None]]


@dataclass
class RawServer:
    handle: Handler
    host: str = "127.0.0.1"
    accepted: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[Received] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)  # connections whose handler returned
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _handlers: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connected, self.host, 0)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/v21.0/PN/messages") -> URL:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return URL(f"http://{host}:{self.port}{path}")

    async def next_request(self, connection: Connection) -> Received | None:
        received = await read_request(connection.reader)
        if received is not None:
            self.requests.append(received)
        return received

    async def ended_soon(self, number: int) -> bool:
        """Whether connection ``number`` ends within a second (the client having closed it)."""
        for _ in range(100):
            if number in self.ended:
                return True
            await asyncio.sleep(0.01)
        return False

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        self._writers.append(writer)
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.append(handler)
        connection = Connection(self.accepted, reader, writer)
        try:
            await self.handle(self, connection)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            return  # stopped by the test's end; asyncio would log a cancelled handler
        finally:
            self.open_now -= 1
            self.ended.append(connection.number)
            writer.close()


def serving(answer_to: Callable[[Received, Connection], bytes]) -> Handler:
    """A kept-alive server: each request on a connection gets ``answer_to``'s bytes."""

    async def handle(server: RawServer, connection: Connection) -> None:
        while (received := await server.next_request(connection)) is not None:
            connection.writer.write(answer_to(received, connection))
            await connection.writer.drain()

    return handle


def writing_once(data: bytes) -> Handler:
    """A server that reads one request, writes ``data``, and leaves the connection to the
    client to end."""

    async def handle(server: RawServer, connection: Connection) -> None:
        await server.next_request(connection)
        connection.writer.write(data)
        await connection.writer.drain()
        await connection.reader.read()

    return handle


def always(data: bytes) -> Handler:
    return serving(lambda received, connection: data)


@pytest.fixture
async def servers() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    started: list[RawServer] = []

    async def start(handle: Handler) -> RawServer:
        server = RawServer(handle)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


Servers = Callable[[Handler], Awaitable[RawServer]]


@pytest.fixture
async def client() -> AsyncIterator[KeptAliveClient]:
    http = KeptAliveClient(max_connections=8, connect_timeout=2)
    yield http
    http.close()


async def get(client: KeptAliveClient, server: RawServer, within: float = WITHIN) -> HttpAnswer:
    return await client.request("GET", server.url(), {}, None, within=within)


def refused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------------------------
# The request and its answer


async def test_a_request_is_written_as_http_1_1_with_host_headers_length_and_body(
    servers: Servers, client: KeptAliveClient
) -> None:
    server = await servers(always(answer(b'{"id":"wamid.A"}', status="201 Created")))
    headers = {"Authorization": "Bearer token-1", "Content-Type": "application/json"}
    result = await client.request(
        "POST", server.url("/v21.0/PN/messages?x=1"), headers, b'{"to":"1"}', within=WITHIN
    )
    assert result == HttpAnswer(201, b'{"id":"wamid.A"}')
    [received] = server.requests
    assert received.request_line == "POST /v21.0/PN/messages?x=1 HTTP/1.1"
    assert received.headers == [
        ("Host", f"127.0.0.1:{server.port}"),
        ("Authorization", "Bearer token-1"),
        ("Content-Type", "application/json"),
        ("Content-Length", "10"),
    ]
    assert received.body == b'{"to":"1"}'


async def test_a_request_without_a_body_is_written_without_a_content_length(
    servers: Servers, client: KeptAliveClient
) -> None:
    server = await servers(always(answer(b"{}")))
    await client.request("GET", server.url("/v21.0/PN"), {"Accept": "x/y"}, None, within=WITHIN)
    [received] = server.requests
    assert received.request_line == "GET /v21.0/PN HTTP/1.1"
    assert received.headers == [("Host", f"127.0.0.1:{server.port}"), ("Accept", "x/y")]


async def test_an_ipv6_host_is_written_in_brackets_with_its_port(
    client: KeptAliveClient,
) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    server = RawServer(always(answer(b"six")), host="::1")
    try:
        await server.start()
    except OSError as exc:
        pytest.skip(f"cannot listen on ::1: {exc}")
    try:
        assert (await get(client, server)).body == b"six"
        assert server.requests[0].header("Host") == f"[::1]:{server.port}"
    finally:
        await server.stop()


async def test_consecutive_requests_reuse_one_connection(
    servers: Servers, client: KeptAliveClient
) -> None:
    server = await servers(
        serving(lambda received, connection: answer(f"#{len(server.requests)}".encode()))
    )
    bodies = [(await get(client, server)).body for _ in range(3)]
    assert bodies == [b"#1", b"#2", b"#3"]
    assert server.accepted == 1


async def test_each_origin_has_its_own_connections(
    servers: Servers, client: KeptAliveClient
) -> None:
    one = await servers(always(answer(b"one")))
    two = await servers(always(answer(b"two")))
    bodies = [(await get(client, server)).body for server in (one, two, one, two)]
    assert bodies == [b"one", b"two", b"one", b"two"]
    assert (one.accepted, two.accepted) == (1, 1)


async def test_an_answer_in_chunks_is_read_whole_and_its_connection_kept(
    servers: Servers, client: KeptAliveClient
) -> None:
    async def handle(server: RawServer, connection: Connection) -> None:
        while await server.next_request(connection) is not None:
            connection.writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b"5\r\nhello\r\n", b"1\r\n \r\n", b"5\r\nworld\r\n", b"0\r\n\r\n"):
                await asyncio.sleep(0.01)  # each piece arrives on its own
                connection.writer.write(piece)
                await connection.writer.drain()

    server = await servers(handle)
    assert await get(client, server) == HttpAnswer(200, b"hello world")
    assert await get(client, server) == HttpAnswer(200, b"hello world")
    assert server.accepted == 1


async def test_an_answer_without_a_length_ends_when_the_server_closes(
    servers: Servers, client: KeptAliveClient
) -> None:
    async def handle(server: RawServer, connection: Connection) -> None:
        await server.next_request(connection)
        connection.writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ")
        await connection.writer.drain()
        await asyncio.sleep(0.01)
        connection.writer.write(b"the end")
        await connection.writer.drain()

    server = await servers(handle)
    assert await get(client, server) == HttpAnswer(200, b"until the end")
    assert await get(client, server) == HttpAnswer(200, b"until the end")
    assert server.accepted == 2


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # HTTP's "deflate" is the zlib format
    ],
    ids=["gzip", "x-gzip", "deflate"],
)
async def test_a_compressed_answer_is_decoded(
    servers: Servers, client: KeptAliveClient, coding: str, encode: Callable[[bytes], bytes]
) -> None:
    document = b'{"messages":[{"id":"wamid.Z"}]}' * 10
    server = await servers(
        always(answer(encode(document), headers=f"Content-Encoding: {coding}\r\n"))
    )
    assert await get(client, server) == HttpAnswer(200, document)


@pytest.mark.parametrize("apart", [False, True], ids=["in one write", "in two writes"])
async def test_a_100_continue_before_the_answer_is_skipped(
    servers: Servers, client: KeptAliveClient, apart: bool
) -> None:
    async def handle(server: RawServer, connection: Connection) -> None:
        while await server.next_request(connection) is not None:
            connection.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if apart:
                await connection.writer.drain()
                await asyncio.sleep(0.01)
            connection.writer.write(answer(b"final", status="202 Accepted"))
            await connection.writer.drain()

    server = await servers(handle)
    assert await get(client, server) == HttpAnswer(202, b"final")
    assert await get(client, server) == HttpAnswer(202, b"final")
    assert server.accepted == 1


# --------------------------------------------------------------------------------------------
# Connections the server ends


@pytest.mark.parametrize("server_closes", [True, False], ids=["and closes", "but stays open"])
async def test_after_connection_close_from_the_server_the_next_request_opens_a_new_connection(
    servers: Servers, client: KeptAliveClient, server_closes: bool
) -> None:
    async def handle(server: RawServer, connection: Connection) -> None:
        while await server.next_request(connection) is not None:
            body = f"on {connection.number}".encode()
            connection.writer.write(answer(body, headers="Connection: close\r\n"))
            await connection.writer.drain()
            if server_closes:
                return

    server = await servers(handle)
    assert (await get(client, server)).body == b"on 1"
    assert (await get(client, server)).body == b"on 2"
    assert server.accepted == 2


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    servers: Servers, client: KeptAliveClient
) -> None:
    closed = asyncio.Event()

    async def handle(server: RawServer, connection: Connection) -> None:
        await server.next_request(connection)
        connection.writer.write(answer(f"on {connection.number}".encode()))  # kept alive
        await connection.writer.drain()
        connection.writer.close()
        await connection.writer.wait_closed()
        closed.set()

    server = await servers(handle)
    assert (await get(client, server)).body == b"on 1"
    await closed.wait()
    await asyncio.sleep(0.05)  # the end of the connection reaches the client
    assert (await get(client, server)).body == b"on 2"


@pytest.mark.parametrize("split", [None, 20], ids=["whole", "its rest with the next answer"])
async def test_an_answer_nobody_asked_for_ends_the_connection(
    servers: Servers, client: KeptAliveClient, split: int | None
) -> None:
    unasked = answer(b"unasked")
    first, rest = (unasked, b"") if split is None else (unasked[:split], unasked[split:])

    async def handle(server: RawServer, connection: Connection) -> None:
        before = b""
        while await server.next_request(connection) is not None:
            # Its own answer and more: the connection is out of step, its next answer stale.
            own = answer(f"on {connection.number}".encode())
            connection.writer.write(before + own + first)
            await connection.writer.drain()
            before = rest

    server = await servers(handle)
    assert (await get(client, server)).body == b"on 1"
    await asyncio.sleep(0.05)
    assert (await get(client, server)).body == b"on 2"


@pytest.mark.parametrize(
    "partial",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Len",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n",
    ],
    ids=["nothing", "half the head", "half the body", "chunks without their end"],
)
async def test_a_server_that_closes_before_the_whole_answer_cuts_the_connection(
    servers: Servers, client: KeptAliveClient, partial: bytes
) -> None:
    async def handle(server: RawServer, connection: Connection) -> None:
        await server.next_request(connection)
        connection.writer.write(partial)
        await connection.writer.drain()

    server = await servers(handle)
    with pytest.raises(ConnectionCut):
        await get(client, server)
    assert len(server.requests) == 1  # it was sent: the outcome is unknown, not "not sent"


async def test_a_refused_port_fails_to_connect(client: KeptAliveClient) -> None:
    url = URL(f"http://127.0.0.1:{refused_port()}/v21.0/PN/messages")
    with pytest.raises(ConnectFailed):
        await client.request("POST", url, {}, b"{}", within=WITHIN)


async def test_a_host_name_is_looked_up_and_sent_as_the_host_header(
    servers: Servers, client: KeptAliveClient
) -> None:
    server = await servers(always(answer(b"named")))
    url = URL(f"http://localhost:{server.port}/v21.0/PN/messages")
    result = await client.request("GET", url, {}, None, within=WITHIN)
    assert result.body == b"named"
    assert server.requests[0].header("Host") == f"localhost:{server.port}"


async def test_a_name_that_does_not_resolve_fails_to_connect(client: KeptAliveClient) -> None:
    url = URL("http://graph.mindo.invalid/v21.0/PN/messages")  # .invalid never resolves
    with pytest.raises(ConnectFailed):
        await client.request("POST", url, {}, b"{}", within=WITHIN)


# --------------------------------------------------------------------------------------------
# Time bounds and cancellation


async def test_a_server_that_never_answers_times_out_within_the_bound_and_is_dropped(
    servers: Servers, client: KeptAliveClient
) -> None:
    async def handle(server: RawServer, connection: Connection) -> None:
        await server.next_request(connection)
        if connection.number == 1:
            assert await connection.reader.read() == b""  # until the client closes it
            return
        connection.writer.write(answer(b"on 2"))
        await connection.writer.drain()

    server = await servers(handle)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await get(client, server, within=0.2)
    assert 0.2 <= time.monotonic() - started < 1.0
    assert (await get(client, server)).body == b"on 2"
    assert server.accepted == 2
    assert await server.ended_soon(1)  # the client closed the connection that timed out


async def test_a_request_waiting_for_a_free_connection_past_its_bound_is_not_sent(
    servers: Servers,
) -> None:
    release = asyncio.Event()

    async def handle(server: RawServer, connection: Connection) -> None:
        while await server.next_request(connection) is not None:
            await release.wait()
            connection.writer.write(answer(b"done"))
            await connection.writer.drain()

    server = await servers(handle)
    client = KeptAliveClient(max_connections=1, connect_timeout=2)
    try:
        first = asyncio.create_task(get(client, server))
        await asyncio.sleep(0.05)
        with pytest.raises(ConnectFailed):
            await get(client, server, within=0.1)
        release.set()
        assert (await first).body == b"done"
    finally:
        client.close()
    assert len(server.requests) == 1


async def test_a_cancelled_request_closes_its_connection_and_the_next_gets_its_own_answer(
    servers: Servers, client: KeptAliveClient
) -> None:
    got_first = asyncio.Event()
    release = asyncio.Event()

    async def handle(server: RawServer, connection: Connection) -> None:
        while (received := await server.next_request(connection)) is not None:
            if received.body == b"first":
                got_first.set()
                await release.wait()  # answers late: after the caller gave up
            connection.writer.write(answer(b"to " + received.body))
            await connection.writer.drain()

    server = await servers(handle)
    first = asyncio.create_task(client.request("POST", server.url(), {}, b"first", within=WITHIN))
    await got_first.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.create_task(client.request("POST", server.url(), {}, b"second", within=WITHIN))
    await asyncio.sleep(0.05)  # the second request is written before the late answer
    release.set()
    assert (await second).body == b"to second"
    assert server.accepted == 2
    assert await server.ended_soon(1)


# --------------------------------------------------------------------------------------------
# Answers the client refuses


async def test_an_answer_of_exactly_the_limit_is_read(
    servers: Servers, client: KeptAliveClient
) -> None:
    server = await servers(always(answer(b"x" * LIMIT)))
    result = await get(client, server)
    assert len(result.body) == LIMIT


@pytest.mark.parametrize("delimited", [True, False], ids=["with a length", "until the end"])
async def test_an_answer_longer_than_the_limit_cuts_the_connection(
    servers: Servers, client: KeptAliveClient, delimited: bool
) -> None:
    body = b"x" * (LIMIT + 1)
    data = answer(body) if delimited else b"HTTP/1.1 200 OK\r\n\r\n" + body

    server = await servers(writing_once(data))
    with pytest.raises(ConnectionCut, match="longer than"):
        await get(client, server)


async def test_a_header_longer_than_the_limit_cuts_the_connection(
    servers: Servers, client: KeptAliveClient
) -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Endless: " + b"x" * (LIMIT + 512 * 1024)

    server = await servers(writing_once(head))
    with pytest.raises(ConnectionCut, match="longer than"):
        await get(client, server)


async def test_an_answer_without_a_length_cut_by_a_reset_is_not_taken_as_whole(
    servers: Servers, client: KeptAliveClient
) -> None:
    async def handle(server: RawServer, connection: Connection) -> None:
        await server.next_request(connection)
        connection.writer.write(b'HTTP/1.1 200 OK\r\n\r\n{"messages": [')
        await connection.writer.drain()
        await asyncio.sleep(0.05)  # the head and a part of the body arrive first
        sock = connection.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.writer.transport.abort()  # no FIN: a reset

    server = await servers(handle)
    with pytest.raises(ConnectionCut):
        await get(client, server)


async def test_a_compressed_answer_decoding_to_more_than_the_limit_cuts_the_connection(
    servers: Servers, client: KeptAliveClient
) -> None:
    bomb = gzip.compress(b"\0" * (LIMIT + 1))  # a few KiB on the wire
    server = await servers(always(answer(bomb, headers="Content-Encoding: gzip\r\n")))
    with pytest.raises(ConnectionCut, match="longer than"):
        await get(client, server)


@pytest.mark.parametrize(
    "data",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n{}",
        answer(gzip.compress(b"hello " * 100)[:-12], headers="Content-Encoding: gzip\r\n"),
    ],
    ids=[
        "not http",
        "a bad status",
        "a bad length",
        "two lengths",
        "a bad chunk size",
        "a body that is not gzip",
        "an unknown coding",
        "a truncated gzip body",
    ],
)
async def test_a_malformed_answer_cuts_the_connection(
    servers: Servers, client: KeptAliveClient, data: bytes
) -> None:
    server = await servers(writing_once(data))
    with pytest.raises(ConnectionCut):
        await get(client, server)
    assert await server.ended_soon(1)


# --------------------------------------------------------------------------------------------
# The pool


async def test_at_most_max_connections_requests_are_in_flight_at_once(
    servers: Servers,
) -> None:
    in_flight = 0
    most_in_flight = 0

    async def handle(server: RawServer, connection: Connection) -> None:
        nonlocal in_flight, most_in_flight
        while (received := await server.next_request(connection)) is not None:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1
            connection.writer.write(answer(received.body))
            await connection.writer.drain()

    server = await servers(handle)
    client = KeptAliveClient(max_connections=3, connect_timeout=2)
    try:
        bodies = await asyncio.gather(
            *(
                client.request("POST", server.url(), {}, str(n).encode(), within=WITHIN)
                for n in range(12)
            )
        )
    finally:
        client.close()
    assert [result.body for result in bodies] == [str(n).encode() for n in range(12)]
    assert (most_in_flight, server.most_open, server.accepted) == (3, 3, 3)


async def test_closing_the_client_closes_its_idle_connections(servers: Servers) -> None:
    server = await servers(always(answer(b"ok")))
    client = KeptAliveClient(max_connections=2, connect_timeout=2)
    await asyncio.gather(get(client, server), get(client, server))
    assert server.open_now == 2
    client.close()
    await asyncio.sleep(0.05)
    assert server.open_now == 0


# Not tested: a connection idle for longer than the keep-alive bound (15 s, a module constant)
# is not reused. Testing it would take a 15 s wait or patching the module, which we do not do.
