"""The demo tenant that `mindo dev` seeds: an organisation, the sandbox's account and a key.

The WABA id and token are the ones the sandbox's bundled demo configuration accepts.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from mindo_core.access import api_keys
from mindo_core.bootstrap import Services
from mindo_core.domain.errors import Conflict

DEMO_ORGANISATION = "Mindo Demo"
DEMO_WABA_ID = "104996122399160"
DEMO_ACCESS_TOKEN = "sandbox-demo-token"
DEMO_KEY_NAME = "demo (mindo dev)"

# welcome_message is sent in the docs both with and without `code` and its button value; these
# Mindo-side defaults make both honest (see README, "Template variables").
DEMO_DEFAULTS = {"welcome_message": {"code": "BIENVENIDA", "button_0": "inicio"}}


@dataclass(frozen=True, kw_only=True)
class SeededDemo:
    api_key: str = field(repr=False)
    phone_number_ids: tuple[str, ...]
    template_names: tuple[str, ...]


async def seed_demo(services: Services, *, pinned_key: str | None) -> SeededDemo:
    """Idempotent: re-running refreshes the account and issues a fresh key (earlier demo keys
    are revoked, since only their hashes were kept and they cannot be shown again)."""
    with contextlib.suppress(Conflict):
        await services.organisations.create(DEMO_ORGANISATION)
    connected = await services.accounts.connect(
        DEMO_ORGANISATION,
        waba_id=DEMO_WABA_ID,
        access_token=DEMO_ACCESS_TOKEN,
        name="Mindo Demo WhatsApp Business",
    )
    for template in connected.templates:
        defaults = DEMO_DEFAULTS.get(template.name)
        if defaults:
            await services.templates.set_variable_defaults(template, defaults)
    key = await _demo_key(services, pinned_key)
    return SeededDemo(
        api_key=key,
        phone_number_ids=tuple(n.phone_number_id for n in connected.phone_numbers),
        template_names=tuple(sorted({t.name for t in connected.templates})),
    )


async def _demo_key(services: Services, pinned_key: str | None) -> str:
    existing = await services.api_keys.list(DEMO_ORGANISATION)
    pinned_hash = api_keys.hash_key(pinned_key) if pinned_key else None
    for key in existing:
        if key.key_hash == pinned_hash and key.revoked_at is None:
            return pinned_key or ""
        if key.name == DEMO_KEY_NAME and key.revoked_at is None:
            await services.api_keys.revoke(DEMO_ORGANISATION, key.display_prefix)
    issued = await services.api_keys.issue(
        DEMO_ORGANISATION, name=DEMO_KEY_NAME, plaintext=pinned_key
    )
    return issued.plaintext
