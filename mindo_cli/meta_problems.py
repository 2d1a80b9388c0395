"""What Meta's refusal (or silence) means for the operator, and what to check."""

from __future__ import annotations

from mindo_core.domain.errors import MetaError, MetaUnavailable
from mindo_core.settings import Settings


def meta_problem(error: MetaError | MetaUnavailable, settings: Settings, waba_id: str) -> str:
    if isinstance(error, MetaUnavailable):
        return f"Could not reach Meta at {settings.meta_base_url}: {error.reason}."
    code = error.meta_code
    details = error.detail.details
    said = f"{error.message}: {details}" if details and details != error.detail.title else ""
    said = (said or error.message).rstrip(".") + "."
    if code in (0, 190):
        return (
            f"Meta refused the access token: {said} The token is invalid or has expired: "
            "create a new one (a System User token with whatsapp_business_management and "
            "whatsapp_business_messaging) and try again."
        )
    if code == 10 or 200 <= code < 300:
        return (
            f"The access token may not read WhatsApp Business Account {waba_id}: {said} "
            "Check the WABA id, and that the token's System User has that account assigned."
        )
    if code == 100:
        return (
            f"Meta did not accept WhatsApp Business Account {waba_id}: {said} Check the id: "
            "it is the WhatsApp Business Account id, not a phone number id."
        )
    return f"Meta answered with an error: {said}"
