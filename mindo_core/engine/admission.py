"""What a bulk needs before its number's runner can send it: its phone number, its template
ready to fill, and its account's access token decrypted. A bulk missing any of them cannot
run, and is stopped before its first send with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mindo_core.bulks.model import Bulk
from mindo_core.domain.accounts import PhoneNumber
from mindo_core.domain.errors import MindoError
from mindo_core.engine.bulk_context import BulkContexts
from mindo_core.engine.bulk_messages import BulkMessages
from mindo_core.engine.parts import EngineParts

__all__ = ["Admitted", "Unrunnable", "admit"]


@dataclass(frozen=True, kw_only=True)
class Admitted:
    phone_number: PhoneNumber
    access_token: str = field(repr=False)
    messages: BulkMessages


@dataclass(frozen=True, kw_only=True)
class Unrunnable:
    why: str


async def admit(parts: EngineParts, bulk: Bulk, contexts: BulkContexts) -> Admitted | Unrunnable:
    context = await contexts.of(bulk)
    if context is None:
        return Unrunnable(why="its phone number or template is no longer known")
    encrypted = await parts.accounts.encrypted_token(context.business_account.id)
    if encrypted is None:
        return Unrunnable(why="its business account has no access token")
    try:
        messages = BulkMessages(context.template)
    except MindoError as error:  # a stored definition it cannot read
        return Unrunnable(why=f"its template cannot be read: {error.message}")
    try:
        token = parts.cipher.decrypt(encrypted)
    except Exception as error:  # its text is the cipher's, never the token's
        return Unrunnable(why=f"its access token cannot be decrypted ({type(error).__name__})")
    return Admitted(phone_number=context.phone_number, access_token=token, messages=messages)
