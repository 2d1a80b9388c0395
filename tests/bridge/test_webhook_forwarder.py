"""The bridge batches concurrent webhook POSTs into IngestWebhooks calls, and answers each POST
from its own result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge.problems import ApiError, coded
from rest_bridge.upstream import Upstream
from rest_bridge.webhook_forwarder import WebhookForwarder


class RecordingStub:
    """Counts the posts of each call; answers each post with its body's length as statuses."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.failure: ApiError | None = None
        self.drop_one = False  # answer one result too few (a service of another version)
        self.hold: asyncio.Event | None = None

    async def IngestWebhooks(
        self, request: mindo_pb2.IngestWebhooksRequest, **_: Any
    ) -> mindo_pb2.IngestWebhooksResponse:
        self.calls.append(len(request.posts))
        await asyncio.sleep(0)
        if self.hold is not None:
            await self.hold.wait()
        results = [mindo_pb2.IngestWebhookResult(statuses=len(p.body)) for p in request.posts]
        if self.drop_one:
            results.pop()
        return mindo_pb2.IngestWebhooksResponse(results=results)


class RecordingUpstream(Upstream):
    async def call(self, method: Any, message: object, **_: Any) -> Any:
        stub: RecordingStub = self.stub  # type: ignore[assignment]
        if stub.failure is not None:
            raise stub.failure
        return await method(message)


@pytest.fixture
def stub() -> RecordingStub:
    return RecordingStub()


@pytest.fixture
def forwarder(stub: RecordingStub) -> WebhookForwarder:
    return WebhookForwarder(RecordingUpstream(stub=stub, timeout_seconds=5))  # type: ignore[arg-type]


async def test_concurrent_posts_share_one_call_and_each_gets_its_own_result(
    forwarder: WebhookForwarder, stub: RecordingStub
) -> None:
    bodies = [b"x" * n for n in range(1, 51)]

    results = await asyncio.gather(*(forwarder.forward(b, "sha256=00") for b in bodies))

    assert [r.statuses for r in results] == list(range(1, 51))
    assert stub.calls == [50]


async def test_a_lone_post_goes_at_once(forwarder: WebhookForwarder, stub: RecordingStub) -> None:
    result = await forwarder.forward(b"abc", "sha256=00")

    assert result.statuses == 3
    assert stub.calls == [1]


async def test_a_failed_call_fails_every_post_of_it(
    forwarder: WebhookForwarder, stub: RecordingStub
) -> None:
    stub.failure = coded(503, "Service unavailable", "service_unavailable")

    answers = await asyncio.gather(
        forwarder.forward(b"a", "sha256=00"),
        forwarder.forward(b"b", "sha256=00"),
        return_exceptions=True,
    )

    assert all(isinstance(a, ApiError) and a.status == 503 for a in answers)


async def test_posts_after_a_call_go_in_the_next_one(
    forwarder: WebhookForwarder, stub: RecordingStub
) -> None:
    await forwarder.forward(b"a", "sha256=00")
    await asyncio.gather(*(forwarder.forward(b"b", "sha256=00") for _ in range(3)))

    assert stub.calls == [1, 3]


async def test_an_answer_that_does_not_pair_with_the_posts_fails_them_all(
    forwarder: WebhookForwarder, stub: RecordingStub
) -> None:
    stub.drop_one = True

    answers = await asyncio.gather(
        forwarder.forward(b"a", "sha256=00"),
        forwarder.forward(b"b", "sha256=00"),
        return_exceptions=True,
    )

    assert all(isinstance(a, ApiError) and a.status == 500 for a in answers)


async def test_closing_answers_every_waiting_post_503(
    forwarder: WebhookForwarder, stub: RecordingStub
) -> None:
    stub.hold = asyncio.Event()  # the service never answers
    posts = [asyncio.create_task(forwarder.forward(b"x", "sha256=00")) for _ in range(5)]
    await asyncio.sleep(0.01)

    await forwarder.close()

    answers = await asyncio.gather(*posts, return_exceptions=True)
    assert all(isinstance(a, ApiError) and a.status == 503 for a in answers)


async def test_a_post_arriving_as_calls_return_is_still_sent(
    forwarder: WebhookForwarder, stub: RecordingStub
) -> None:
    """Two calls return in the same loop turn as a third POST arrives: their tasks are done,
    but still in the set until their done-callbacks run. The POST must start a call of its
    own rather than wait for one that will never come."""
    stub.hold = asyncio.Event()
    first = asyncio.create_task(forwarder.forward(b"a", "sha256=00"))
    await _until(lambda: stub.calls == [1])
    second = asyncio.create_task(forwarder.forward(b"b", "sha256=00"))
    await _until(lambda: stub.calls == [1, 1])

    stub.hold.set()  # both calls finish in the next turn, before the third POST's first step
    third = asyncio.create_task(forwarder.forward(b"late", "sha256=00"))

    answers = await asyncio.wait_for(asyncio.gather(first, second, third), timeout=5)
    assert [a.statuses for a in answers] == [1, 1, 4]


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")
