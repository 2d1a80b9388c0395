"""A webhook POST from Meta: checked, read, and applied.

The signature (``X-Hub-Signature-256``, HMAC-SHA256 of the exact body with the app secret) is
checked here, in the service, before anything is parsed: the REST bridge checks it too, so that
a forged POST never reaches the service, but the service trusts no caller with its data. No API
key: the signature is the authentication. A refused or malformed POST records nothing.

Statuses go to the ``StatusWriter`` (shared transactions, durable before the answer); inbound
messages to ``InboundMessages`` (one transaction for every accepted POST, durable before the
answer); account events are applied one by one (``AccountEvents``). The answer counts what the
POST held.

``many`` takes several POSTs at once (the bridge batches concurrent ones): each is checked and
read on its own, and a refused one does not fail the others; the statuses of all the accepted
ones are written together, in one transaction. A failure to write fails them all, so that Meta
retries every one of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from mindo_core.delivery.webhook_payloads import WebhookBatch, parse_webhook, verify_signature
from mindo_core.domain.errors import MindoError, Unavailable
from mindo_core.services.account_events import AccountEvents
from mindo_core.services.inbound_messages import InboundMessages
from mindo_core.services.status_writer import StatusWriter

__all__ = ["IngestReport", "IngestWebhook", "WebhookPost"]

logger = logging.getLogger("mindo.webhooks")


@dataclass(frozen=True, kw_only=True)
class IngestReport:
    statuses: int
    account_events: int
    inbound_messages: int = 0


@dataclass(frozen=True, kw_only=True)
class WebhookPost:
    body: bytes
    signature: str | None


class IngestWebhook:
    def __init__(
        self,
        statuses: StatusWriter,
        account_events: AccountEvents,
        *,
        app_secret: str,
        inbound: InboundMessages,
    ) -> None:
        self._statuses = statuses
        self._account_events = account_events
        self._inbound = inbound
        self._app_secret = app_secret

    async def __call__(self, body: bytes, signature: str | None) -> IngestReport:
        (answer,) = await self.many([WebhookPost(body=body, signature=signature)])
        if isinstance(answer, MindoError):
            raise answer
        return answer

    async def many(self, posts: Sequence[WebhookPost]) -> list[IngestReport | MindoError]:
        """One answer per post, in order: its report, or why it was refused."""
        read = [self._read(post) for post in posts]
        batches = [batch for batch in read if isinstance(batch, WebhookBatch)]
        statuses = [status for batch in batches for status in batch.statuses]
        if statuses:
            await self._statuses.write(statuses)
        inbound = [message for batch in batches for message in batch.inbound]
        if inbound:
            await self._inbound.record(inbound)
        preferences = [preference for batch in batches for preference in batch.preferences]
        await self._inbound.record_meta_opt_outs(statuses, preferences)
        return [await self._answer(item) for item in read]

    async def _answer(self, read: WebhookBatch | MindoError) -> IngestReport | MindoError:
        """The post's report once its account events are applied; a failure there is this
        post's own (Meta retries it; its statuses, already durable, are idempotent)."""
        if isinstance(read, MindoError):
            return read
        try:
            for event in read.account_events:
                await self._account_events.apply(event)
        except Exception:
            logger.exception("Applying an account webhook failed; Meta will post it again")
            return Unavailable("The account event could not be applied now; retry")
        return IngestReport(
            statuses=len(read.statuses),
            account_events=len(read.account_events),
            inbound_messages=len(read.inbound),
        )

    def _read(self, post: WebhookPost) -> WebhookBatch | MindoError:
        try:
            verify_signature(post.body, post.signature, self._app_secret)
            return parse_webhook(post.body)
        except MindoError as refused:
            return refused
