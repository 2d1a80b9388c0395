"""Resend the failed: a new bulk, linked to a finished one, of its recipients worth trying again.

Which recipients are taken and why the others are left is ``bulks.resend`` (one table of Meta's
codes, or the client's own ``error_codes``). Recipients of a marketing template who are on the
organisation's suppression list now are left too (``suppressed``), whatever became of them.

The new bulk is submitted as any other (``SubmitBulk``): the same number, template, language,
send window and pacing as the first (pacing may be given anew), each recipient with the
variables it was sent with; the template must still be approved, the quota is planned and the
estimate counted as for any bulk, and ``parent_bulk_id`` links it to the first. A bulk that
can still send (SCHEDULED, QUEUED, PROCESSING, PAUSED) is ``BulkStillSending``; one with
nothing to take is ``NothingToResend``, naming the counts by reason. Nothing is stored in
either case.

Idempotency as for SendBulk (``idempotent_submits``, the same namespace of keys): the same key and
request within 24 hours answer the first resend again, counts included, and make one bulk.
"""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Final

from mindo_core.bulks.model import Bulk, BulkId, BulkRecipient
from mindo_core.bulks.resend import (
    ResendSelection,
    can_resend_from,
    select_for_resend,
)
from mindo_core.bulks.send_window import SendWindow
from mindo_core.bulks.submission import RecipientInput
from mindo_core.domain.clock import Clock
from mindo_core.domain.errors import BulkNotFound, BulkStillSending, NothingToResend
from mindo_core.engine.bulk_context import BulkContexts
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkStore
from mindo_core.ports.contacts import ContactStore
from mindo_core.ports.idempotency import IdempotencyStore
from mindo_core.ports.templates import TemplateStore
from mindo_core.services.authenticate import Principal
from mindo_core.services.bulk_queries import parse_bulk_id
from mindo_core.services.idempotent_sends import KeyedRequest
from mindo_core.services.idempotent_submits import IdempotentSubmits, Submitting
from mindo_core.services.submit_bulk import (
    SubmitBulk,
    SubmitBulkCommand,
    SubmittedBulk,
    kept_answer,
)
from mindo_core.templating.model import parse_template

__all__ = ["ResendFailed", "ResendFailedCommand", "ResentBulk"]

# Recipients of the first bulk read per query.
_READ_BATCH: Final = 1000


@dataclass(frozen=True, kw_only=True)
class ResendFailedCommand:
    bulk_send_id: str
    # Meta's codes to resend instead of the default table (None: the table; see bulks.resend).
    error_codes: frozenset[int] | None = None
    # The new bulk's pacing (None: the first bulk's).
    pacing: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResentBulk:
    """The new bulk's 202, how many recipients it took, and the count of those left by reason."""

    submitted: SubmittedBulk
    parent_bulk_id: BulkId
    taken: int
    left: Mapping[str, int]  # reason (``bulks.resend.LEFT_REASONS``) → count


class ResendFailed:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        templates: TemplateStore,
        bulks: BulkStore,
        contacts: ContactStore,
        idempotency: IdempotencyStore,
        clock: Clock,
        submit: SubmitBulk,
    ) -> None:
        self._accounts = accounts
        self._templates = templates
        self._bulks = bulks
        self._contacts = contacts
        self._submit = submit
        self._keyed = IdempotentSubmits(keys=idempotency, clock=clock)

    async def __call__(self, principal: Principal, command: ResendFailedCommand) -> ResentBulk:
        if command.idempotency_key is None:
            return await self._resend(principal, command)
        organisation_id = principal.organisation.id
        keyed = KeyedRequest.of(organisation_id, command.idempotency_key, _fingerprint(command))
        return await self._keyed.run(
            keyed,
            Submitting(
                submit=lambda: self._resend(principal, command),
                kept=_kept,
                replay=lambda answer: self._replay(principal, answer),
            ),
        )

    async def _resend(self, principal: Principal, command: ResendFailedCommand) -> ResentBulk:
        parent = await self._owned(principal, command.bulk_send_id)
        if not can_resend_from(parent.status):
            raise BulkStillSending(parent.id, parent.status)
        context = await BulkContexts(accounts=self._accounts, templates=self._templates).of(parent)
        if context is None:  # its number or template left the store
            raise BulkNotFound(parent.id)
        selection = await self._select(parent, command.error_codes)
        await self._leave_suppressed(parent, selection, is_marketing=context.template.is_marketing)
        if not selection.taken:
            raise NothingToResend(parent.id, selection.left_by_reason())
        button_keys = parse_template(context.template).button_keys()
        submitted = await self._submit(
            principal,
            SubmitBulkCommand(
                phone_number_id=context.phone_number.phone_number_id,
                template_name=context.template.name,
                language=context.template.language,
                recipients=[_input(r, button_keys) for r in selection.taken],
                pacing=command.pacing or parent.pacing,
                parent_bulk_id=parent.id,
                send_window=_hours(parent.send_window),
            ),
        )
        return ResentBulk(
            submitted=submitted,
            parent_bulk_id=parent.id,
            taken=len(selection.taken),
            left=selection.left_by_reason(),
        )

    async def _select(self, parent: Bulk, error_codes: frozenset[int] | None) -> ResendSelection:
        selection = ResendSelection()
        offset = 0
        while True:
            page = await self._bulks.list_bulk_recipients(
                parent.organisation_id, parent.id, status=None, offset=offset, limit=_READ_BATCH
            )
            select_for_resend(page.items, error_codes=error_codes, selection=selection)
            if len(page.items) < _READ_BATCH:
                return selection
            offset += _READ_BATCH

    async def _leave_suppressed(
        self, parent: Bulk, selection: ResendSelection, *, is_marketing: bool
    ) -> None:
        """Marketing recipients on the suppression list now are left (as the engine would)."""
        if not is_marketing or not selection.taken:
            return
        phones = [r.e164 for r in selection.taken]
        suppressed: frozenset[str] = frozenset()
        for start in range(0, len(phones), _READ_BATCH):
            chunk = phones[start : start + _READ_BATCH]
            suppressed |= await self._contacts.opted_out_among(parent.organisation_id, chunk)
        if not suppressed:
            return
        kept = [r for r in selection.taken if r.e164 not in suppressed]
        selection.leave("suppressed", len(selection.taken) - len(kept))
        selection.taken = kept

    async def _owned(self, principal: Principal, bulk_id: str) -> Bulk:
        parsed = parse_bulk_id(bulk_id)
        organisation_id = principal.organisation.id
        bulk = None if parsed is None else await self._bulks.get_bulk(parsed, organisation_id)
        if bulk is None:
            raise BulkNotFound(bulk_id[:64])
        return bulk

    async def _replay(self, principal: Principal, answer: str) -> ResentBulk:
        kept = json.loads(answer)
        submitted = await self._submit.replay(principal.organisation.id, kept["submitted"])
        return ResentBulk(
            submitted=submitted,
            parent_bulk_id=BulkId(kept["parent_bulk_id"]),
            taken=kept["taken"],
            left=kept["left"],
        )


def _input(recipient: BulkRecipient, button_keys: Container[str]) -> RecipientInput:
    used = recipient.variables_used
    return RecipientInput(
        phone=recipient.e164,
        variables={k: v for k, v in used.items() if k not in button_keys},
        button_variables={k: v for k, v in used.items() if k in button_keys},
    )


def _hours(window: SendWindow | None) -> tuple[str, str] | None:
    """The first bulk's send window, kept by the resend."""
    return None if window is None else (f"{window.start:%H:%M}", f"{window.end:%H:%M}")


def _fingerprint(command: ResendFailedCommand) -> object:
    codes = None if command.error_codes is None else sorted(command.error_codes)
    return {
        "resend_failed": command.bulk_send_id.strip().lower(),
        "error_codes": codes,
        "pacing": command.pacing,
    }


def _kept(resent: ResentBulk) -> str:
    return json.dumps(
        {
            "submitted": kept_answer(resent.submitted),
            "parent_bulk_id": resent.parent_bulk_id,
            "taken": resent.taken,
            "left": dict(resent.left),
        }
    )
