"""Account events Meta notifies by webhook, triggered through the admin API.

Each changes the sandbox as Meta's change would (a paused template is then refused with 132015,
an upgraded number's throughput limit rises, a new portfolio tier shows in the numbers' messaging
limit) and returns the notification to post (meta-cloud-api.md §6.5, §5.4, §5.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mindo_sandbox._json_reading import (
    ConfigError,
    as_mapping,
    check_known_keys,
    opt_int,
    opt_str,
    req_str,
)
from mindo_sandbox.state import SandboxState
from mindo_sandbox.webhook_payloads import digits

TEMPLATE_EVENTS = frozenset(
    {
        "APPROVED",
        "ARCHIVED",
        "UNARCHIVED",
        "DELETED",
        "DISABLED",
        "FLAGGED",
        "IN_APPEAL",
        "LIMIT_EXCEEDED",
        "LOCKED",
        "PAUSED",
        "PENDING",
        "REINSTATED",
        "PENDING_DELETION",
        "REJECTED",
    }
)
TEMPLATE_REASONS = frozenset(
    {
        "ABUSIVE_CONTENT",
        "CATEGORY_NOT_AVAILABLE",
        "INCORRECT_CATEGORY",
        "INVALID_FORMAT",
        "NONE",
        "PROMOTIONAL",
        "SCAM",
        "TAG_CONTENT_MISMATCH",
    }
)
# Events after which the template can be sent again; a flagged template keeps its status (it can
# still be sent, at risk of a pause). Any other event becomes the template's status.
_SENDABLE_AGAIN = frozenset({"APPROVED", "REINSTATED", "UNARCHIVED"})
_STATUS_KEPT = frozenset({"FLAGGED"})

QUALITY_EVENTS = frozenset(
    {"ONBOARDING", "THROUGHPUT_UPGRADE", "FLAGGED", "UNFLAGGED", "UPGRADE", "DOWNGRADE"}
)
MESSAGING_TIERS = frozenset(
    {"TIER_50", "TIER_250", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED", "TIER_NOT_SET"}
)
# Meta's throughput upgrade: 1,000 mps, for portfolios with an unlimited messaging limit (§4).
UPGRADED_MPS = 1000
CAPABILITY_TIERS: Mapping[int, str] = {
    250: "TIER_250",
    2000: "TIER_2K",
    10000: "TIER_10K",
    100000: "TIER_100K",
    -1: "TIER_UNLIMITED",
}

_LIMIT_FIELD = "whatsapp_business_manager_messaging_limit"


class UnknownObject(LookupError):
    """The event names a template, number or WABA the sandbox does not have."""


@dataclass(frozen=True, kw_only=True)
class AccountEvent:
    waba_id: str
    field: str
    value: Mapping[str, Any]
    changed: tuple[Mapping[str, Any], ...]  # the objects after the change, in Graph's GET shape


# --------------------------------------------------------------------------------------------
# message_template_status_update


def template_status_update(state: SandboxState, data: Any) -> AccountEvent:
    where = "template_status"
    data = as_mapping(data, where)
    check_known_keys(data, _TEMPLATE_EVENT_KEYS, where)
    name = req_str(data, "name", where)
    language = req_str(data, "language", where)
    event = _one_of(req_str(data, "event", where).upper(), TEMPLATE_EVENTS, "event", where)
    reason = _reason(data, where)
    waba_id = _template_waba(state, data, name, language, where)
    template = state.upsert_template(
        waba_id, {"name": name, "language": language, **_status_change(event)}
    )
    value: dict[str, Any] = {
        "event": event,
        "message_template_id": _numeric(template.id),
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason,
        "message_template_category": template.category,
    }
    for key in ("other_info", "disable_info", "rejection_info"):
        if key in data:
            value[key] = dict(as_mapping(data[key], f"{where}.{key}"))
    return AccountEvent(
        waba_id=waba_id,
        field="message_template_status_update",
        value=value,
        changed=(template.to_graph(),),
    )


_TEMPLATE_EVENT_KEYS = frozenset(
    {"waba_id", "name", "language", "event", "reason", "other_info", "disable_info"}
    | {"rejection_info"}
)


def _status_change(event: str) -> dict[str, str]:
    if event in _STATUS_KEPT:
        return {}
    return {"status": "APPROVED" if event in _SENDABLE_AGAIN else event}


def _reason(data: Mapping[str, Any], where: str) -> str | None:
    """``NONE`` unless given; ``null`` is Meta's reason for a template scheduled for deletion."""
    if "reason" in data and data["reason"] is None:
        return None
    return _one_of(
        opt_str(data, "reason", "NONE", where).upper(), TEMPLATE_REASONS, "reason", where
    )


def _template_waba(
    state: SandboxState, data: Mapping[str, Any], name: str, language: str, where: str
) -> str:
    """The given WABA, or the only one with this template."""
    if "waba_id" in data:
        waba_id = req_str(data, "waba_id", where)
        owners = [waba_id] if state.find_template(waba_id, name, language) else []
    else:
        owners = [w for w in state.waba_ids() if state.find_template(w, name, language)]
    if not owners:
        raise UnknownObject(f"unknown template {name} ({language})")
    if len(owners) > 1:
        raise ConfigError(f"{where}: several WABAs have {name} ({language}); give 'waba_id'")
    return owners[0]


def _numeric(object_id: str) -> int | str:
    """Meta's template status webhook carries the template id as a number."""
    return int(object_id) if object_id.isdigit() else object_id


# --------------------------------------------------------------------------------------------
# message_template_quality_update

QUALITY_SCORES = frozenset({"GREEN", "YELLOW", "RED", "UNKNOWN"})


def template_quality_update(state: SandboxState, data: Any) -> AccountEvent:
    """The template's ``quality_score`` becomes the new score (shown by GET); the notification
    carries the previous one (given, or the template's own, UNKNOWN when it has none). A RED
    template can still be sent: Meta pauses it later (``template_status`` with PAUSED)."""
    where = "template_quality"
    data = as_mapping(data, where)
    check_known_keys(data, _TEMPLATE_QUALITY_KEYS, where)
    name = req_str(data, "name", where)
    language = req_str(data, "language", where)
    score = _one_of(
        req_str(data, "new_quality_score", where).upper(),
        QUALITY_SCORES,
        "new_quality_score",
        where,
    )
    waba_id = _template_waba(state, data, name, language, where)
    current = state.find_template(waba_id, name, language)
    previous = _score_of(current.config.extra if current else {})
    if "previous_quality_score" in data:
        previous = _one_of(
            req_str(data, "previous_quality_score", where).upper(),
            QUALITY_SCORES,
            "previous_quality_score",
            where,
        )
    template = state.upsert_template(
        waba_id, {"name": name, "language": language, "quality_score": {"score": score}}
    )
    value: dict[str, Any] = {
        "previous_quality_score": previous,
        "new_quality_score": score,
        "message_template_id": _numeric(template.id),
        "message_template_name": name,
        "message_template_language": language,
    }
    return AccountEvent(
        waba_id=waba_id,
        field="message_template_quality_update",
        value=value,
        changed=(template.to_graph(),),
    )


_TEMPLATE_QUALITY_KEYS = frozenset(
    {"waba_id", "name", "language", "new_quality_score", "previous_quality_score"}
)


def _score_of(extra: Mapping[str, Any]) -> str:
    quality = extra.get("quality_score")
    score = quality.get("score") if isinstance(quality, Mapping) else None
    return str(score).upper() if score else "UNKNOWN"


# --------------------------------------------------------------------------------------------
# phone_number_quality_update


def phone_number_quality_update(state: SandboxState, data: Any) -> AccountEvent:
    """``THROUGHPUT_UPGRADE`` defaults to Meta's upgrade: level HIGH, 1,000 mps, TIER_UNLIMITED;
    explicit fields win. Other events change only what they give."""
    where = "phone_number_quality_update"
    data = as_mapping(data, where)
    check_known_keys(data, _QUALITY_EVENT_KEYS, where)
    phone_number_id = req_str(data, "phone_number_id", where)
    waba_id = state.owner_of(phone_number_id)
    if state.phone_number(phone_number_id) is None or waba_id is None:
        raise UnknownObject(f"unknown phone number {phone_number_id}")
    event = _one_of(req_str(data, "event", where).upper(), QUALITY_EVENTS, "event", where)
    number = state.patch_phone_number(phone_number_id, _number_changes(data, event, where))
    value: dict[str, Any] = {
        "display_phone_number": digits(number.display_phone_number),
        "event": event,
        "max_daily_conversations_per_business": number.messaging_limit,
    }
    # Deprecated by Meta (February 2026): posted only when the event gives them.
    for key in ("current_limit", "old_limit"):
        if key in data:
            value[key] = _tier(data, key, where)
    return AccountEvent(
        waba_id=waba_id,
        field="phone_number_quality_update",
        value=value,
        changed=(number.to_graph(),),
    )


_QUALITY_EVENT_KEYS = frozenset(
    {"phone_number_id", "event", "max_daily_conversations_per_business", "throughput_level"}
    | {"throughput_mps", "quality_rating", "current_limit", "old_limit"}
)


def _number_changes(data: Mapping[str, Any], event: str, where: str) -> dict[str, Any]:
    upgrade = event == "THROUGHPUT_UPGRADE"
    changes: dict[str, Any] = {}
    if upgrade:
        changes = {_LIMIT_FIELD: "TIER_UNLIMITED", "throughput_level": "HIGH"}
        changes["throughput_mps"] = UPGRADED_MPS
    if "max_daily_conversations_per_business" in data:
        changes[_LIMIT_FIELD] = _tier(data, "max_daily_conversations_per_business", where)
    for key in ("throughput_level", "throughput_mps", "quality_rating"):
        if key in data:
            changes[key] = data[key]
    return changes


def _tier(data: Mapping[str, Any], key: str, where: str) -> str:
    return _one_of(req_str(data, key, where), MESSAGING_TIERS, key, where)


# --------------------------------------------------------------------------------------------
# business_capability_update


def business_capability_update(state: SandboxState, data: Any) -> list[AccountEvent]:
    """The portfolio's messaging limit, shown by every number of the WABA (of every WABA
    when none is given: the sandbox's WABAs stand for one portfolio). One post per WABA."""
    where = "business_capability_update"
    data = as_mapping(data, where)
    check_known_keys(
        data,
        frozenset({"waba_id", "max_daily_conversations_per_business"})
        | {"max_phone_numbers_per_business"},
        where,
    )
    limit = data.get("max_daily_conversations_per_business")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit not in CAPABILITY_TIERS:
        raise ConfigError(
            f"{where}: 'max_daily_conversations_per_business' must be one of "
            f"{sorted(CAPABILITY_TIERS)}"
        )
    value: dict[str, Any] = {"max_daily_conversations_per_business": limit}
    if "max_phone_numbers_per_business" in data:
        value["max_phone_numbers_per_business"] = opt_int(
            data, "max_phone_numbers_per_business", 1, where, minimum=1
        )
    return [
        AccountEvent(
            waba_id=waba_id,
            field="business_capability_update",
            value=value,
            changed=tuple(
                state.patch_phone_number(n.id, {_LIMIT_FIELD: CAPABILITY_TIERS[limit]}).to_graph()
                for n in state.phone_numbers_of(waba_id)
            ),
        )
        for waba_id in _wabas(state, data, where)
    ]


def _wabas(state: SandboxState, data: Mapping[str, Any], where: str) -> list[str]:
    if "waba_id" not in data:
        return state.waba_ids()
    waba_id = req_str(data, "waba_id", where)
    if state.waba(waba_id) is None:
        raise UnknownObject(f"unknown WABA {waba_id}")
    return [waba_id]


def _one_of(value: str, allowed: frozenset[str], key: str, where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{where}: '{key}' must be one of {sorted(allowed)}")
    return value
