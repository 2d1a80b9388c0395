"""What a Meta error code on a failed recipient means, and what the operator can do about it.

Plain data from §3 of shared/meta-cloud-api.md (the meaning is Meta's, the advice is ours). The
bridge talks to the service over gRPC only, so this table lives here rather than beside the
core's ``domain/meta_codes`` (which says how the engine retries a code, not what to tell a
person). ``mindo_cli/meta_problems`` explains a different thing: why connecting an account
failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, kw_only=True)
class MetaAdvice:
    meaning: str
    what_to_do: str


_TOKEN = MetaAdvice(
    meaning="Meta refused the access token (expired or invalidated).",
    what_to_do="Create a new System User token and connect the account again; resend the failed.",
)
_PERMISSION = MetaAdvice(
    meaning="The token lacks a permission for this account or number.",
    what_to_do="Give the token's System User whatsapp_business_messaging on this account.",
)
_TRANSIENT = MetaAdvice(
    meaning="Meta was temporarily unavailable.",
    what_to_do="Nothing was wrong with the message: resend the failed recipients later.",
)

ADVICE: Mapping[int, MetaAdvice] = MappingProxyType(
    {
        0: _TOKEN,
        190: _TOKEN,
        3: _PERMISSION,
        10: _PERMISSION,
        **dict.fromkeys(range(200, 300), _PERMISSION),
        131005: _PERMISSION,
        2: _TRANSIENT,
        131000: _TRANSIENT,
        131016: _TRANSIENT,
        133004: _TRANSIENT,
        4: MetaAdvice(
            meaning="The app reached Meta's API call rate limit.",
            what_to_do="Send more slowly (a lower pacing) and resend the failed later.",
        ),
        33: MetaAdvice(
            meaning="The business phone number has been deleted.",
            what_to_do="Send from another number of the account.",
        ),
        100: MetaAdvice(
            meaning="Meta did not accept a parameter (unknown, misspelled or too long).",
            what_to_do="Check the template's variables against its definition and their lengths.",
        ),
        368: MetaAdvice(
            meaning="The WhatsApp Business Account is restricted for a policy violation.",
            what_to_do="See the account's quality page in Meta's Business Manager; appeal there.",
        ),
        80007: MetaAdvice(
            meaning="The WhatsApp Business Account reached its rate limit.",
            what_to_do="Send more slowly and resend the failed later.",
        ),
        130403: MetaAdvice(
            meaning="The business has blocked this user.",
            what_to_do="Unblock the user in WhatsApp Manager if the message should reach them.",
        ),
        130429: MetaAdvice(
            meaning="The number's Cloud API throughput was reached.",
            what_to_do="Lower the bulk's pacing; resend the failed.",
        ),
        130472: MetaAdvice(
            meaning="The user is part of a Meta marketing-message experiment.",
            what_to_do="Nothing for this send: the user is held out on purpose.",
        ),
        130497: MetaAdvice(
            meaning="The account may not message users in this country.",
            what_to_do="Leave these recipients out of bulks from this account.",
        ),
        131008: MetaAdvice(
            meaning="A required parameter is missing.",
            what_to_do="Give every variable the template needs.",
        ),
        131009: MetaAdvice(
            meaning="A parameter value is invalid.",
            what_to_do="Check the variables' values (formats, media links, lengths).",
        ),
        131021: MetaAdvice(
            meaning="The recipient is the sending number itself.",
            what_to_do="Remove the business's own number from the list.",
        ),
        131026: MetaAdvice(
            meaning=(
                "Message undeliverable: not a WhatsApp number, the user has not accepted the "
                "terms, uses an old app, or Meta chose not to deliver."
            ),
            what_to_do="Check the number; do not resend soon (it will fail again).",
        ),
        131031: MetaAdvice(
            meaning="The business account is locked.",
            what_to_do="Resolve it in Meta's Business Manager before sending again.",
        ),
        131042: MetaAdvice(
            meaning="A payment or billing problem on the account.",
            what_to_do="Fix the payment method in Meta's Business Manager, then resend.",
        ),
        131045: MetaAdvice(
            meaning="The phone number is not properly registered (certificate).",
            what_to_do="Register the number again with Meta.",
        ),
        131047: MetaAdvice(
            meaning="More than 24 hours since the user last wrote (free-form messages only).",
            what_to_do="Send an approved template instead.",
        ),
        131048: MetaAdvice(
            meaning="Spam rate limit: too many earlier messages were blocked or reported.",
            what_to_do="Slow down a lot, check the number's quality, improve the template.",
        ),
        131049: MetaAdvice(
            meaning="Meta held the message back to keep the user's marketing engagement healthy.",
            what_to_do="Wait at least 24 hours before sending this user marketing again.",
        ),
        131050: MetaAdvice(
            meaning="The user stopped marketing messages from this business.",
            what_to_do="Never resend: keep the user on the suppression list.",
        ),
        131051: MetaAdvice(
            meaning="Unsupported message type.",
            what_to_do="Send a template message.",
        ),
        131053: MetaAdvice(
            meaning="Meta could not fetch the header media.",
            what_to_do="Check the media link is public and of a supported type, then resend.",
        ),
        131056: MetaAdvice(
            meaning="Too many messages to this same recipient in a short time.",
            what_to_do="Resend to this recipient later; others are not affected.",
        ),
        131057: MetaAdvice(
            meaning="The business account was in maintenance mode.",
            what_to_do="Resend in a minute.",
        ),
        131063: MetaAdvice(
            meaning="Marketing templates are disabled on the Cloud API for this account.",
            what_to_do="Enable them in Meta's settings or use the Marketing Messages API.",
        ),
        131064: MetaAdvice(
            meaning="Messaging limited for template-classification violations.",
            what_to_do="Wait for Meta's enforcement to lift; review template categories.",
        ),
        132000: MetaAdvice(
            meaning="The number of parameters does not match the template.",
            what_to_do="Sync the templates and send the variables the template has now.",
        ),
        132001: MetaAdvice(
            meaning="The template does not exist in this language or is not approved.",
            what_to_do="Sync the templates; pick an approved template and language.",
        ),
        132005: MetaAdvice(
            meaning="The text with its variables filled in is too long.",
            what_to_do="Shorten the variables.",
        ),
        132007: MetaAdvice(
            meaning="The template's content breaks a WhatsApp policy.",
            what_to_do="Edit the template and submit it for review again.",
        ),
        132012: MetaAdvice(
            meaning="A parameter is formatted wrongly for its type.",
            what_to_do="Check the variables' formats (currency, date, media).",
        ),
        132015: MetaAdvice(
            meaning="The template is paused for low quality.",
            what_to_do="Wait for Meta to reactivate it (3 or 6 hours) or use another template.",
        ),
        132016: MetaAdvice(
            meaning="The template is disabled for good (paused too many times).",
            what_to_do="Create a new template.",
        ),
        132018: MetaAdvice(
            meaning="A parameter has a newline, a tab or more than four spaces in a row.",
            what_to_do="Clean those characters out of the variables.",
        ),
        133010: MetaAdvice(
            meaning="The phone number is not registered on the Cloud API.",
            what_to_do="Register the number, then resend.",
        ),
        135000: MetaAdvice(
            meaning="Meta could not process the request's parameters.",
            what_to_do="Check the variables; if it persists, contact Meta support.",
        ),
    }
)

UNKNOWN = MetaAdvice(
    meaning="A code Mindo has no explanation for.",
    what_to_do="Look the code up in Meta's Cloud API error reference.",
)
NO_CODE = MetaAdvice(
    meaning="Failed without an error code from Meta.",
    what_to_do="Read the error text; the service may not have reached Meta.",
)


def advice_for(code: int | None) -> MetaAdvice:
    if code is None:
        return NO_CODE
    return ADVICE.get(code, UNKNOWN)
