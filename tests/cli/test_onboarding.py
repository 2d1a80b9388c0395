"""The operator's path, end to end: a tenant, its WhatsApp account, a key, and the key revoked.

Each step prints what happened and the next command to run; the Meta access token goes in once
and never comes back out.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

from mindo_core.access import api_keys

from .background_sandbox import BackgroundSandbox
from .conftest import DEMO_TOKEN, DEMO_WABA, PAGE_SIZE, Mindo

_WHOLE_KEY = re.compile(r"mindo_[A-Za-z0-9]{24}")


def connect_demo(mindo: Mindo, org: str = "Acme") -> str:
    mindo.ok("orgs", "create", org)
    return mindo.ok(
        "accounts", "connect", "--org", org, "--waba-id", DEMO_WABA, "--access-token", DEMO_TOKEN
    )


def test_an_organisation_is_created_and_told_to_connect_an_account(mindo: Mindo) -> None:
    output = mindo.ok("orgs", "create", "Acme Retail")

    assert "Created organisation 'Acme Retail'" in output
    assert "Next:" in output
    assert "mindo accounts connect --org 'Acme Retail' --waba-id WABA_ID" in output


def test_connecting_shows_every_number_as_meta_describes_it_and_what_to_do_next(
    mindo: Mindo,
) -> None:
    output = connect_demo(mindo)

    assert f"Connected WhatsApp Business Account {DEMO_WABA} to 'Acme'" in output
    number = "813497231850626 +54 9 223 675-0780 Mindo Demo GREEN TIER_2000 STANDARD"
    assert number in output  # id, display number, verified name, quality, limit, throughput
    assert "Next: issue an API key for your application: mindo keys create --org Acme" in output


def test_connecting_follows_every_page_of_templates_to_the_end(
    mindo: Mindo, sandbox: BackgroundSandbox
) -> None:
    at_meta = sandbox.config.wabas[0].templates
    assert len(at_meta) > 2 * PAGE_SIZE  # several pages, or this test proves nothing

    output = connect_demo(mindo)

    assert f"Templates: {len(at_meta)} (" in output
    pages = [r for r in sandbox.requests() if r["path"].endswith("/message_templates")]
    assert len(pages) == math.ceil(len(at_meta) / PAGE_SIZE)
    listed = mindo.ok("templates", "list", "--org", "Acme")
    assert all(f"{t.name} {t.language} {t.status}" in listed for t in at_meta)
    assert "Refresh from Meta with: mindo templates sync --org Acme" in listed


def test_the_token_may_come_from_a_hidden_prompt_or_the_environment(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "Acme")
    connect = ("accounts", "connect", "--org", "Acme", "--waba-id", DEMO_WABA)
    from_env = replace(mindo, env={**mindo.env, "MINDO_META_ACCESS_TOKEN": DEMO_TOKEN})

    prompted = mindo.ok(*connect, typed=f"{DEMO_TOKEN}\n")
    inherited = from_env.ok(*connect)

    assert "Meta access token:" in prompted
    assert DEMO_TOKEN not in prompted  # the typed token is not echoed
    assert f"Connected WhatsApp Business Account {DEMO_WABA}" in prompted
    assert f"Connected WhatsApp Business Account {DEMO_WABA}" in inherited


def test_a_new_key_is_printed_once_with_a_warning_and_a_curl_line_to_try_it(
    mindo: Mindo,
) -> None:
    connect_demo(mindo)

    output = mindo.ok("keys", "create", "--org", "Acme", "--name", "billing", "--expires-in", "30d")

    key = _WHOLE_KEY.search(output)
    assert key is not None
    assert "Created API key 'billing' for 'Acme' (scopes: read, send; expires: 20" in output
    assert "Copy it now: this is the only time it is shown" in output
    assert f"curl http://127.0.0.1:8123/api/v1/business-accounts/ -H 'X-API-Key: {key[0]}'" in (
        output
    )


def test_a_send_only_key_is_shown_with_a_send_request_from_the_organisation_s_number(
    mindo: Mindo,
) -> None:
    connect_demo(mindo)

    output = mindo.ok("keys", "create", "--org", "Acme", "--scope", "send")

    assert "(scopes: send; expires: never)" in output
    assert "curl -X POST http://127.0.0.1:8123/api/v1/meta-templates/send/" in output
    assert '"phone_number_id": "813497231850626"' in output


def test_a_key_for_an_organisation_without_numbers_says_to_connect_one_first(
    mindo: Mindo,
) -> None:
    mindo.ok("orgs", "create", "Empty")

    output = mindo.ok("keys", "create", "--org", "Empty")

    assert _WHOLE_KEY.search(output) is not None
    assert "Next: this organisation has no WhatsApp number yet" in output
    assert "mindo accounts connect --org Empty" in output


def test_listing_keys_shows_prefixes_never_whole_keys(mindo: Mindo) -> None:
    connect_demo(mindo)
    issued = [
        _key_in(mindo.ok("keys", "create", "--org", "Acme", "--name", name))
        for name in ("web", "batch")
    ]

    listed = mindo.ok("keys", "list", "--org", "Acme")

    for key in issued:
        assert api_keys.display_prefix(key) in listed
        assert key not in listed
    assert re.search(r"mindo_[A-Za-z0-9]{7,}", listed) is None
    assert "web read,send" in listed
    assert "batch read,send" in listed


def test_a_revoked_key_is_listed_as_revoked_and_cannot_be_revoked_twice(mindo: Mindo) -> None:
    connect_demo(mindo)
    key = _key_in(mindo.ok("keys", "create", "--org", "Acme", "--name", "web"))
    prefix = api_keys.display_prefix(key)

    revoked = mindo.ok("keys", "revoke", prefix)

    assert f"Revoked API key {prefix} ('web') of 'Acme'" in revoked
    assert f"{prefix} web read,send" in mindo.ok("keys", "list", "--org", "Acme")
    assert "revoked" in mindo.ok("keys", "list", "--org", "Acme")
    assert f"Key {prefix} was already revoked" in mindo.fails("keys", "revoke", prefix)


def test_a_key_is_revoked_by_its_whole_value_or_in_a_named_organisation(mindo: Mindo) -> None:
    mindo.ok("orgs", "create", "NoAccount")
    first = _key_in(mindo.ok("keys", "create", "--org", "NoAccount", "--name", "one"))
    second = _key_in(mindo.ok("keys", "create", "--org", "NoAccount", "--name", "two"))

    by_value = mindo.ok("keys", "revoke", first)
    by_prefix = mindo.ok("keys", "revoke", api_keys.display_prefix(second), "--org", "NoAccount")

    assert "('one') of 'NoAccount'" in by_value
    assert "('two') of 'NoAccount'" in by_prefix


def test_the_access_token_is_never_printed_nor_stored_in_clear(
    mindo: Mindo, database: Path
) -> None:
    connect_demo(mindo)
    mindo.ok("keys", "create", "--org", "Acme")
    mindo.ok("templates", "sync")
    mindo.ok("templates", "list", "--org", "Acme")
    mindo.ok("keys", "list", "--org", "Acme")

    stored = b"".join(path.read_bytes() for path in database.parent.glob(f"{database.name}*"))

    assert DEMO_WABA.encode() in stored  # the account is there: this is the right file
    assert DEMO_TOKEN.encode() not in stored
    assert len(mindo.transcript) == 6
    assert not [output for output in mindo.transcript if DEMO_TOKEN in output]


def _key_in(output: str) -> str:
    match = _WHOLE_KEY.search(output)
    assert match is not None, output
    return match[0]
