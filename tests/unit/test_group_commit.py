"""Group commit of single sends' records: records arriving while a batch is written go together
in the next one; each caller is answered once its own record is stored; a batch refused whole
is written one by one so each caller gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from mindo_core.adapters.memory import memory_stores
from mindo_core.domain.accounts import OrganisationId, PhoneNumberRowId
from mindo_core.domain.errors import Conflict
from mindo_core.domain.messages import MessageRecord, NewMessage
from mindo_core.domain.templates import TemplateId
from mindo_core.ports.messages import MessageStore
from mindo_core.services.group_commit import GroupCommit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MESSAGE = NewMessage(
    organisation_id=OrganisationId(1),
    phone_number_row_id=PhoneNumberRowId(1),
    template_id=TemplateId(1),
    recipient_phone="+5491112345678",
    variables_used={},
    wamid="wamid.0",
    status="sent",
    created_at=NOW,
    sent_at=NOW,
)


class SlowBatches:
    """The memory store, each transaction held until ``release`` is set; batches recorded."""

    def __init__(self, store: MessageStore) -> None:
        self._store = store
        self.batches: list[int] = []
        self.release = asyncio.Event()

    async def add_message(self, message: NewMessage) -> MessageRecord:
        self.batches.append(1)
        return await self._store.add_message(message)

    async def add_messages(self, messages: Sequence[NewMessage]) -> Sequence[MessageRecord]:
        self.batches.append(len(messages))
        await self.release.wait()
        return await self._store.add_messages(messages)

    async def find_message_by_wamid(self, *args: object) -> MessageRecord | None:
        raise NotImplementedError


def message(n: int) -> NewMessage:
    return replace(MESSAGE, wamid=f"wamid.{n}")


async def test_records_arriving_during_a_write_go_together_in_the_next_one() -> None:
    store = SlowBatches(memory_stores().messages)
    commit = GroupCommit(store)  # type: ignore[arg-type]

    first = asyncio.create_task(commit.add(message(0)))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(commit.add(message(n))) for n in range(1, 50)]
    await asyncio.sleep(0)
    assert not first.done()
    store.release.set()
    records = await asyncio.gather(first, *rest)

    assert store.batches == [1, 49]
    assert [r.wamid for r in records] == [f"wamid.{n}" for n in range(50)]


async def test_a_batch_refused_whole_is_written_one_by_one() -> None:
    store = SlowBatches(memory_stores().messages)
    store.release.set()
    commit = GroupCommit(store)  # type: ignore[arg-type]
    await commit.add(message(1))

    results = await asyncio.gather(
        commit.add(message(1)), commit.add(message(2)), return_exceptions=True
    )

    assert isinstance(results[0], Conflict)
    assert isinstance(results[1], MessageRecord)
    assert results[1].wamid == "wamid.2"


async def test_a_caller_that_stops_waiting_still_has_its_record_written() -> None:
    messages = memory_stores().messages
    store = SlowBatches(messages)
    commit = GroupCommit(store)  # type: ignore[arg-type]

    waiting = asyncio.create_task(commit.add(message(7)))
    await asyncio.sleep(0)
    waiting.cancel()
    store.release.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0.01)

    assert await messages.find_message_by_wamid(OrganisationId(1), "wamid.7") is not None
