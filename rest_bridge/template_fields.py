"""The fields Send message and Send bulk share, in the order both pages list them: which number
sends, and which template in which language."""

from __future__ import annotations

from typing import Final

from rest_bridge.fields import CharField, Field

DEFAULT_LANGUAGE: Final = "es"


def sender_and_template(sends: str) -> dict[str, Field]:
    """``phone_number_id``, ``template_name`` and ``language``; ``sends`` says what the number
    sends ("the message", "the messages")."""
    return {
        "phone_number_id": CharField(
            max_length=64,
            description=f"Meta's WhatsApp phone number ID that sends {sends}.",
            example="813497231850626",
        ),
        "template_name": CharField(
            max_length=512,
            description="Name of an APPROVED template.",
            example="welcome_message",
        ),
        "language": CharField(
            max_length=20,
            required=False,
            default=DEFAULT_LANGUAGE,
            description="Template language, such as es, en or pt_BR.",
        ),
    }
