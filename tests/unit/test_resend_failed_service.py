"""ResendFailed over in-memory stores and the engine: a marketing recipient who opted out after
the bulk is left as suppressed (a utility one is not), and nothing is stored when nothing is
taken."""

from __future__ import annotations

import pytest

from mindo_core.bulks.submission import RecipientInput
from mindo_core.domain.errors import NothingToResend
from mindo_core.ports.bulks import BulkFilter
from mindo_core.services.resend_failed import ResendFailedCommand
from mindo_core.services.submit_bulk import SubmitBulkCommand
from tests.bulk_fakes import NUMBER, BulkWorld, bulk_world, meta_error, order, phone


def welcome(i: int) -> RecipientInput:
    return RecipientInput(
        phone=phone(i),
        variables={"name": f"Client {i}", "code": f"C{i}"},
        button_variables={"button_0": f"B{i}"},
    )


async def finished_with_refusals(world: BulkWorld, template: str) -> str:
    for i in (1, 2):
        world.meta.refusals[phone(i)[1:]] = meta_error(131049)
    recipients = [welcome(i) if template == "welcome_message" else order(i) for i in range(3)]
    command = SubmitBulkCommand(
        phone_number_id=NUMBER, template_name=template, recipients=recipients
    )
    bulk = (await world.services.submit_bulk(world.principal, command)).bulk
    await world.engine.start()
    done = await world.finished(bulk)
    assert (done.counters.sent, done.counters.failed) == (1, 2)
    await world.services.suppression_list.add(world.principal.organisation.id, phone(2))
    return bulk.id


@pytest.mark.parametrize(
    ("template", "taken", "left"),
    [
        ("welcome_message", 1, {"succeeded": 1, "suppressed": 1}),
        ("order_update", 2, {"succeeded": 1}),
    ],
)
async def test_only_marketing_resends_leave_the_suppressed(
    template: str, taken: int, left: dict[str, int]
) -> None:
    world = await bulk_world()
    try:
        bulk_id = await finished_with_refusals(world, template)

        resent = await world.services.resend_failed(
            world.principal, ResendFailedCommand(bulk_send_id=bulk_id)
        )
    finally:
        await world.engine.stop()

    assert (resent.taken, dict(resent.left)) == (taken, left)
    assert resent.submitted.bulk.parent_bulk_id == bulk_id


async def test_nothing_taken_stores_nothing() -> None:
    world = await bulk_world()
    try:
        bulk_id = await finished_with_refusals(world, "order_update")
        with pytest.raises(NothingToResend) as refused:
            await world.services.resend_failed(
                world.principal,
                ResendFailedCommand(bulk_send_id=bulk_id, error_codes=frozenset({131026})),
            )
        listed = await world.stores.bulks.list_bulks(
            world.principal.organisation.id, BulkFilter(), offset=0, limit=10
        )
    finally:
        await world.engine.stop()

    assert refused.value.left == {"succeeded": 1, "not_requested": 2}
    assert listed.count == 1
