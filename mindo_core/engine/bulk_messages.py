"""One bulk recipient's message to Meta, and what Meta's answer means for it.

Payload. The template is parsed once per bulk. Each recipient's ``variables_used`` (validated at
submission, defaults and reused OTP codes included) is resolved again into Meta's components:
button keys (``button_<index>``) go back to ``button_variables``, the others to ``variables``.

Callback data. Every send carries ``biz_opaque_callback_data`` = ``mindo:<bulk id>:<message id>``
(``callback_data``; ``parse_callback_data`` reads it back). Meta returns it in the status
webhooks of that message, so a recipient whose send was in flight when its worker died
(settled ``unconfirmed``) can still be matched to Meta's verdict.

Outcomes. ``outcome_of`` turns what a send raised into a ``retry_policy.SendOutcome`` through
Meta's code table (``meta_codes.policy_for``). ``MetaUnavailable`` that may have sent
(``maybe_sent``: a timeout, a connection cut after the request left) is ``unknown``: the recipient
is settled unconfirmed, as after a crash, and never sent again by the engine (an overloaded run
saw such calls accepted twice when they were retried); its webhook may confirm it later. One
that sent nothing (connection refused, a bare 5xx Meta answered) is transient. With the crash
policy "resend" (``resend_unknown``) the unknown is retried too, as a crash's would be. A
template parameter Meta would refuse (the template changed since submission) is permanent for
that recipient.
"""

from __future__ import annotations

import re
from typing import Any, Final

from mindo_core.bulks.model import BulkId
from mindo_core.domain.errors import MetaError, MetaUnavailable, MindoError, TemplateParameterError
from mindo_core.domain.messages import MessageId
from mindo_core.domain.meta_codes import policy_for
from mindo_core.domain.templates import StoredTemplate
from mindo_core.ports.bulks import ClaimedRecipient
from mindo_core.templating.compiled import CompiledTemplate
from mindo_core.templating.model import parse_template
from mindo_core.templating.payload import build_send_payload
from mindo_core.throughput.retry_policy import SendOutcome, outcome_for_meta_error

__all__ = ["CALLBACK_PREFIX", "BulkMessages", "callback_data", "outcome_of", "parse_callback_data"]

CALLBACK_PREFIX: Final = "mindo"
_CALLBACK = re.compile(rf"{CALLBACK_PREFIX}:([0-9a-f-]{{36}}):([0-9]+)")


def callback_data(bulk_id: BulkId, message_id: MessageId) -> str:
    return f"{CALLBACK_PREFIX}:{bulk_id}:{message_id}"


def parse_callback_data(text: str) -> tuple[BulkId, MessageId] | None:
    """The bulk and message a webhook's ``biz_opaque_callback_data`` names; None if not ours."""
    match = _CALLBACK.fullmatch(text.strip())
    if match is None:
        return None
    return BulkId(match.group(1)), MessageId(int(match.group(2)))


class BulkMessages:
    """Meta's send payload for each recipient of one bulk."""

    def __init__(self, template: StoredTemplate) -> None:
        """Raises ``MalformedTemplate`` when the stored definition cannot be read."""
        self._template = template
        # Compiled once per bulk: the public ``resolve`` recompiles on every call.
        self._compiled = CompiledTemplate(parse_template(template))
        self._button_keys = self._compiled.spec.button_keys()

    @property
    def is_marketing(self) -> bool:
        return self._template.is_marketing

    @property
    def category(self) -> str:
        return self._template.category

    def payload(self, recipient: ClaimedRecipient) -> dict[str, Any]:
        """Raises ``TemplateParameterError`` if the values no longer fit the template."""
        variables: dict[str, str] = {}
        buttons: dict[str, str] = {}
        for key, value in recipient.variables_used.items():
            (buttons if key in self._button_keys else variables)[key] = value
        resolved = self._compiled.resolve(variables, buttons)
        return build_send_payload(
            resolved,
            to=recipient.e164.removeprefix("+"),
            name=self._template.name,
            language=self._template.language,
            biz_opaque_callback_data=callback_data(recipient.bulk_id, recipient.message_id),
        )


def outcome_of(error: MindoError, *, resend_unknown: bool = False) -> SendOutcome:
    """What a send that raised ``error`` means (see the module docstring)."""
    if isinstance(error, MetaError):
        code = error.meta_code
        return outcome_for_meta_error(code, policy_for(code), title=_meta_text(error))
    if isinstance(error, MetaUnavailable) and error.maybe_sent and not resend_unknown:
        return SendOutcome.unknown(title=error.message)
    if isinstance(error, MetaUnavailable):
        if error.retryable:
            return SendOutcome.transient(title=error.message)
        return SendOutcome.permanent(None, title=error.message)
    if isinstance(error, TemplateParameterError):
        return SendOutcome.permanent(error.meta_code, title=error.message)
    return SendOutcome.permanent(None, title=error.message)


def _meta_text(error: MetaError) -> str:
    """Meta's title, and its details when they say more ("Message undeliverable." does not)."""
    title, details = error.detail.title, error.detail.details
    if not details or details.rstrip(".") == title.rstrip("."):
        return title
    return f"{title}: {details}" if title else details
