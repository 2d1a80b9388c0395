"""Send one template message: validate everything first, then call Meta once, then record.

Contacts. A recipient Meta accepted becomes one of the organisation's contacts (source
``outbound``) unless they already are one, written with its message's record
(``MessageStore``). A marketing template (and a utility or authentication one, when the
organisation's opt-out policy says so) is refused, before Meta, to a recipient on the
organisation's suppression list (``RecipientOptedOut``).

Quota. A recipient not messaged in the organisation's rolling 24 hours takes a slot of its
limit; when none is left after what running bulks were promised, the send is refused before
Meta (``QuotaExceeded``, with when room frees). A recipient already in the window always goes.
The check and its reservation are ``OrganisationQuota``'s (decided atomically per organisation
across processes; the reservation is held until the message is recorded).

Hot path. The sender (number, account, decrypted token) and its template, compiled, are read
at most once a second per organisation, number, template and language (``ShortLived``); the
records of concurrent sends are written together (``GroupCommit``), each answer after its own
record is durable.

Throughput. The send takes its slot from the number's throughput (``SendSlots``), which the
number's bulks share: single sends go first, and a send whose slot would come more than
``slot_wait_seconds`` away (or after the caller's deadline) is refused before Meta
(``NumberAtCapacity``, with when to retry), never sent to meet Meta's 130429. A "too fast"
answer slows the number down for the bulks too.

Deadline. With the caller's time left (``time_remaining``: a gRPC deadline), no call to Meta
starts once it has passed (``DeadlineExceeded``, nothing sent) and the call is bounded by what
is left, within the gateway's own send timeout.

Idempotency. With an idempotency key, a repeat of the request within 24 hours answers what the
first did and Meta is called at most once (``idempotent_sends``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mindo_core.contacts.opt_out import OptOutPolicy
from mindo_core.domain.accounts import OrganisationId, PhoneNumber, PhoneNumberRowId
from mindo_core.domain.clock import Clock, Deadline
from mindo_core.domain.errors import (
    DeadlineExceeded,
    InvalidPhoneNumber,
    MessageNotFound,
    MetaError,
    MetaUnavailable,
    PhoneNumberNotFound,
    RecipientOptedOut,
)
from mindo_core.domain.messages import DeliveryState, MessageRecord, NewMessage
from mindo_core.domain.meta_codes import policy_for
from mindo_core.domain.templates import StoredTemplate
from mindo_core.phones.e164 import NormalizedPhone, normalize_phone
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.contacts import ContactStore, OptOutPolicies
from mindo_core.ports.idempotency import IdempotencyStore
from mindo_core.ports.messages import MessageStore
from mindo_core.ports.meta import MetaGateway
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.send_slots import SendSlots
from mindo_core.ports.templates import TemplateStore
from mindo_core.services.approved_template import DEFAULT_LANGUAGE, approved_template
from mindo_core.services.authenticate import Principal
from mindo_core.services.group_commit import GroupCommit
from mindo_core.services.idempotent_sends import (
    IdempotentSends,
    KeyedRequest,
    Sending,
    SendProgress,
    Sent,
)
from mindo_core.services.organisation_quota import OrganisationQuota
from mindo_core.services.short_lived import ShortLived
from mindo_core.templating.compiled import CompiledTemplate
from mindo_core.templating.model import parse_template
from mindo_core.templating.payload import build_send_payload
from mindo_core.templating.resolution import ResolvedTemplate

# How long a single send waits for its number's next free slot before it is refused.
DEFAULT_SLOT_WAIT_SECONDS = 1.0


@dataclass(frozen=True, kw_only=True)
class SendMessageCommand:
    phone_number_id: str
    template_name: str
    recipient_phone: str
    language: str = DEFAULT_LANGUAGE
    variables: Mapping[str, str] = field(default_factory=dict)
    button_variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SentMessage:
    record: MessageRecord
    wamid: str
    template_name: str
    recipient_phone: str
    sent_at: datetime


class SendMessage:
    def __init__(
        self,
        *,
        accounts: AccountStore,
        templates: TemplateStore,
        messages: MessageStore,
        contacts: ContactStore,
        opt_out_policies: OptOutPolicies,
        meta: MetaGateway,
        cipher: TokenCipher,
        clock: Clock,
        quota: OrganisationQuota,
        idempotency: IdempotencyStore,
        slots: SendSlots,
        slot_wait_seconds: float = DEFAULT_SLOT_WAIT_SECONDS,
    ) -> None:
        self._quota = quota
        self._slots = slots
        self._slot_wait = slot_wait_seconds
        self._keyed = IdempotentSends(keys=idempotency, clock=clock)
        self._accounts = accounts
        self._templates = templates
        self._messages = messages
        self._contacts = contacts
        self._opt_out_policies = opt_out_policies
        self._policies: ShortLived[OrganisationId, OptOutPolicy] = ShortLived(clock)
        self._records = GroupCommit(messages)
        self._meta = meta
        self._cipher = cipher
        self._clock = clock
        self._senders: ShortLived[tuple[OrganisationId, str, str, str], _Sender] = ShortLived(clock)

    async def __call__(
        self,
        principal: Principal,
        command: SendMessageCommand,
        *,
        idempotency_key: str | None = None,
        time_remaining: float | None = None,
    ) -> SentMessage:
        deadline = None if time_remaining is None else Deadline.after(self._clock, time_remaining)
        if idempotency_key is None:
            return await self._send(principal, command, SendProgress(), deadline)
        keyed = KeyedRequest.of(
            principal.organisation.id, idempotency_key, fingerprinted_fields(command)
        )
        sending = Sending(
            send=lambda progress: self._send(principal, command, progress, deadline),
            kept=lambda sent: Sent(wamid=sent.wamid, sent_at=sent.sent_at),
            replay=lambda sent: self._sent_before(principal, command, sent),
        )
        return await self._keyed.run(keyed, sending)

    async def _sent_before(
        self, principal: Principal, command: SendMessageCommand, sent: Sent
    ) -> SentMessage:
        """The first answer again. The request is the same (its fingerprint says so), so its
        template name and normalised phone are what the first answer showed."""
        record = await self._messages.find_message_by_wamid(principal.organisation.id, sent.wamid)
        if record is None:  # recorded with the key, so only a deleted message lands here
            raise MessageNotFound(sent.wamid)
        return SentMessage(
            record=record,
            wamid=sent.wamid,
            template_name=command.template_name,
            recipient_phone=_recipient(command.recipient_phone).e164,
            sent_at=sent.sent_at,
        )

    async def _send(
        self,
        principal: Principal,
        command: SendMessageCommand,
        progress: SendProgress,
        deadline: Deadline | None,
    ) -> SentMessage:
        recipient = _recipient(command.recipient_phone)
        sender = await self._sender(principal, command)
        phone_number, template = sender.phone_number, sender.template
        resolved = sender.template_compiled.resolve(command.variables, command.button_variables)
        if await self._suppresses(principal.organisation.id, template):
            await self._refuse_if_opted_out(principal, recipient.e164)
        payload = build_send_payload(
            resolved, to=recipient.wa_id, name=template.name, language=template.language
        )
        sending = _Attempt(principal, phone_number.id, template, recipient.e164, resolved)
        organisation_id = principal.organisation.id
        async with self._quota.reserve(organisation_id, recipient.e164.removeprefix("+")):
            started_at = await self._slots.wait_for_slot(
                phone_number, within=self._slot_bound(deadline)
            )
            time_left = self._time_left(deadline)
            progress.meta_called = True
            try:
                result = await self._meta.send_template(
                    phone_number_id=phone_number.phone_number_id,
                    access_token=sender.access_token,
                    payload=payload,
                    max_seconds=time_left,
                )
            except (MetaError, MetaUnavailable) as error:
                if _slows_the_number(error):
                    self._slots.too_fast(phone_number, started_at=started_at)
                await self._records.add(sending.failed(error, self._clock.now()))
                raise
            except asyncio.CancelledError:
                # The caller stopped waiting (its deadline, its connection) mid-call: Meta may
                # have sent it, and the record says so.
                stopped = MetaUnavailable("the caller stopped waiting", maybe_sent=True)
                await self._records.add(sending.failed(stopped, self._clock.now()))
                raise
            now = self._clock.now()
            record = await self._records.add(sending.sent(result.wamid, now))
        return SentMessage(
            record=record,
            wamid=result.wamid,
            template_name=template.name,
            recipient_phone=recipient.e164,
            sent_at=now,
        )

    async def _sender(self, principal: Principal, command: SendMessageCommand) -> _Sender:
        """The number, its token and the template, compiled: read at most once a second (a
        paused template, a changed number or token is seen within that second)."""
        key = (
            principal.organisation.id,
            command.phone_number_id,
            command.template_name,
            command.language,
        )
        return await self._senders.get_or_read(
            key, lambda: self._read_sender(principal.organisation.id, command)
        )

    async def _read_sender(
        self, organisation_id: OrganisationId, command: SendMessageCommand
    ) -> _Sender:
        found = await self._accounts.find_sender(organisation_id, command.phone_number_id)
        if found is None:
            raise PhoneNumberNotFound(command.phone_number_id)
        phone_number, account, encrypted_token = found
        template = await approved_template(
            self._templates, account.id, command.template_name, command.language
        )
        return _Sender(
            phone_number=phone_number,
            access_token=self._cipher.decrypt(encrypted_token),
            template=template,
            template_compiled=CompiledTemplate(parse_template(template)),
        )

    async def _suppresses(self, organisation_id: OrganisationId, template: StoredTemplate) -> bool:
        """Whether the suppression list blocks this template: marketing ones always, the others
        as the organisation's policy says (kept a second, as the sender is)."""
        if template.is_marketing:
            return True
        policy = await self._policies.get_or_read(
            organisation_id, lambda: self._opt_out_policies.opt_out_policy(organisation_id)
        )
        return policy.suppresses(template.category)

    async def _refuse_if_opted_out(self, principal: Principal, e164: str) -> None:
        contact = await self._contacts.find_contact(principal.organisation.id, e164)
        if contact is not None and contact.opted_out:
            raise RecipientOptedOut()

    def _slot_bound(self, deadline: Deadline | None) -> float:
        """How long the send may wait for its slot: the bound, or less if the caller's
        deadline comes first (a call that would start after it is refused now)."""
        time_left = self._time_left(deadline)
        return self._slot_wait if time_left is None else min(self._slot_wait, time_left)

    def _time_left(self, deadline: Deadline | None) -> float | None:
        if deadline is None:
            return None
        left = deadline.remaining(self._clock)
        if left <= 0:
            raise DeadlineExceeded()
        return left


def fingerprinted_fields(command: SendMessageCommand) -> dict[str, object]:
    """The request as the idempotency fingerprint reads it: every field, as sent."""
    return {
        "phone_number_id": command.phone_number_id,
        "template_name": command.template_name,
        "language": command.language,
        "recipient_phone": command.recipient_phone,
        "variables": dict(command.variables),
        "button_variables": dict(command.button_variables),
    }


def _slows_the_number(error: MetaError | MetaUnavailable) -> bool:
    """Meta said the number goes too fast (130429 and the like; not a pair-rate 131056,
    which concerns one recipient)."""
    if not isinstance(error, MetaError):
        return False
    policy = policy_for(error.meta_code)
    return policy.slows_down and not policy.recipient_scoped


def _recipient(raw: str) -> NormalizedPhone:
    try:
        return normalize_phone(raw)
    except InvalidPhoneNumber as error:
        raise InvalidPhoneNumber(
            error.message, field_errors={"recipient_phone": [error.message]}
        ) from error


@dataclass(frozen=True, kw_only=True)
class _Sender:
    phone_number: PhoneNumber
    access_token: str = field(repr=False)
    template: StoredTemplate
    # Worked out once per cached sender, not once per send.
    template_compiled: CompiledTemplate


@dataclass(frozen=True)
class _Attempt:
    principal: Principal
    phone_number_row_id: PhoneNumberRowId
    template: StoredTemplate
    recipient_e164: str
    resolved: ResolvedTemplate

    def sent(self, wamid: str, now: datetime) -> NewMessage:
        return self._message(wamid=wamid, status="sent", created_at=now, sent_at=now)

    def failed(self, error: MetaError | MetaUnavailable, now: datetime) -> NewMessage:
        code = error.meta_code if isinstance(error, MetaError) else None
        reason = error.message
        if isinstance(error, MetaUnavailable) and error.maybe_sent:
            reason = f"Outcome unknown ({error.message}): Meta may have sent it"
        return self._message(
            wamid=None,
            status="failed",
            created_at=now,
            failed_at=now,
            error_code=code,
            error_message=reason,
        )

    def _message(
        self,
        *,
        wamid: str | None,
        status: DeliveryState,
        created_at: datetime,
        sent_at: datetime | None = None,
        failed_at: datetime | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> NewMessage:
        return NewMessage(
            organisation_id=self.principal.organisation.id,
            phone_number_row_id=self.phone_number_row_id,
            template_id=self.template.id,
            recipient_phone=self.recipient_e164,
            variables_used=dict(self.resolved.variables_used),
            wamid=wamid,
            status=status,
            created_at=created_at,
            sent_at=sent_at,
            failed_at=failed_at,
            error_code=error_code,
            error_message=error_message,
        )
