"""Hand-written fakes of Mindo's own ports, for unit tests of the use cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mindo_core.domain.errors import MetaError, MetaUnavailable
from mindo_core.ports.meta import MetaSendResult, PhoneNumberInfo, TemplateInfo

# Templates as Meta lists them, shared by the use-case tests: a NAMED one with a URL button,
# and one Meta has paused.
WELCOME = TemplateInfo(
    meta_template_id="12",
    name="welcome_message",
    language="es",
    status="APPROVED",
    category="MARKETING",
    parameter_format="NAMED",
    components=[
        {"type": "BODY", "text": "Hola {{name}}, tu codigo es {{code}}."},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Ver", "url": "https://x.example/{{1}}"}],
        },
    ],
)
PAUSED = TemplateInfo(
    meta_template_id="13",
    name="promo",
    language="es",
    status="PAUSED",
    category="MARKETING",
    parameter_format="POSITIONAL",
    components=[{"type": "BODY", "text": "Promo"}],
)


@dataclass
class SentToMeta:
    phone_number_id: str
    access_token: str
    payload: Mapping[str, Any]


@dataclass
class FakeMeta:
    """Answers sends with sequential wamids, or with the error queued for the next send."""

    phone_numbers: dict[str, list[PhoneNumberInfo]] = field(default_factory=dict)
    templates: dict[str, list[TemplateInfo]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    sent: list[SentToMeta] = field(default_factory=list)
    next_errors: list[MetaError | MetaUnavailable] = field(default_factory=list)
    # The timeout each send was given (None: the gateway's own).
    timeouts: list[float | None] = field(default_factory=list)

    async def send_template(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        payload: Mapping[str, Any],
        max_seconds: float | None = None,
    ) -> MetaSendResult:
        self.timeouts.append(max_seconds)
        if self.next_errors:
            raise self.next_errors.pop(0)
        self.sent.append(SentToMeta(phone_number_id, access_token, payload))
        return MetaSendResult(
            wamid=f"wamid.fake{len(self.sent)}", wa_id=str(payload["to"]), message_status="accepted"
        )

    async def list_phone_numbers(
        self, *, waba_id: str, access_token: str
    ) -> Sequence[PhoneNumberInfo]:
        self._check(waba_id, access_token)
        return self.phone_numbers.get(waba_id, [])

    async def list_templates(self, *, waba_id: str, access_token: str) -> Sequence[TemplateInfo]:
        self._check(waba_id, access_token)
        return self.templates.get(waba_id, [])

    async def close(self) -> None:
        return None

    def _check(self, waba_id: str, access_token: str) -> None:
        from mindo_core.domain.errors import MetaErrorDetail

        if self.tokens.get(waba_id) != access_token:
            detail = MetaErrorDetail(meta_code=190, title="Invalid OAuth access token")
            raise MetaError(detail, retryable=False)


class ReversingCipher:
    """Not encryption: enough to show that the store only ever sees transformed bytes."""

    def encrypt(self, plaintext: str) -> bytes:
        return plaintext[::-1].encode()

    def decrypt(self, ciphertext: bytes) -> str:
        return ciphertext.decode()[::-1]
