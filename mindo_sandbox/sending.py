"""One template send, from the raw request to Meta's answer, in the order Meta checks things.

Faults first (latency, a server error, a held request), then the token, the number, the payload
and the template; then the limits: throughput (counted for every well-formed send), the chosen
recipient errors, the pair rate. Only an accepted send reaches the ``on_accepted`` listeners.
"""

from __future__ import annotations

import re
from typing import Any

from mindo_sandbox.component_checks import check_components
from mindo_sandbox.config import PhoneNumberConfig
from mindo_sandbox.faults import FaultDecision, ServerErrorKind
from mindo_sandbox.graph_errors import GraphError
from mindo_sandbox.replies import GraphReply
from mindo_sandbox.send_payload import SendRequest, read_send_request
from mindo_sandbox.state import AcceptedMessage, SandboxState, TemplateEntry

_NON_DIGITS = re.compile(r"\D")
_TEMPLATE_STATUS_ERRORS = {"PAUSED": 132015, "DISABLED": 132016}


class ChosenRecipientError(GraphError):
    """An error the fault configuration chose for this recipient."""


async def handle_send(
    state: SandboxState, *, phone_number_id: str, token: str | None, payload: Any
) -> GraphReply:
    decision = state.faults.decide()
    faults = _fault_names(decision)
    if decision.latency_s:
        await state.clock.sleep(decision.latency_s)
    if decision.server_error is not None:
        return _server_error(decision.server_error, faults)
    if decision.timeout and not await _hold(state):
        return _server_error("503_graph", faults)
    try:
        accepted = accept_send(state, phone_number_id=phone_number_id, token=token, payload=payload)
    except GraphError as error:
        if isinstance(error, ChosenRecipientError):
            faults += ("recipient_error",)
        return GraphReply.error(error, faults)
    return GraphReply(status=200, body=_success_body(accepted), wamid=accepted.wamid, faults=faults)


def accept_send(
    state: SandboxState, *, phone_number_id: str, token: str | None, payload: Any
) -> AcceptedMessage:
    """Raises ``GraphError`` with the code Meta would answer."""
    number, waba_id = _sender(state, phone_number_id, token)
    request = read_send_request(payload)
    entry = _approved_template(state, waba_id, request)
    check_components(entry.spec, request.components)
    _check_recipient(number, request)
    _check_limits(state, number, request.wa_id)
    message = AcceptedMessage(
        wamid=state.wamids.new(request.wa_id),
        phone_number=number,
        waba_id=waba_id,
        wa_id=request.wa_id,
        template=entry.config,
        payload=payload,
        at=state.clock.time(),
    )
    state.notify_accepted(message)
    return message


def _sender(
    state: SandboxState, phone_number_id: str, token: str | None
) -> tuple[PhoneNumberConfig, str]:
    token_wabas = state.wabas_of_token(token)
    number = state.phone_number(phone_number_id)
    waba_id = state.owner_of(phone_number_id)
    if number is None or waba_id is None:
        raise unsupported_request("post", phone_number_id)
    if waba_id not in token_wabas:
        raise GraphError(
            200, f"The access token does not have access to phone number {phone_number_id}."
        )
    return number, waba_id


def unsupported_request(method: str, object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=33,
    )


def _approved_template(state: SandboxState, waba_id: str, request: SendRequest) -> TemplateEntry:
    entry = state.find_template(waba_id, request.template_name, request.language)
    if entry is None:
        raise GraphError(
            132001,
            f"template name ({request.template_name}) does not exist in {request.language}",
        )
    status = entry.config.status
    if status in _TEMPLATE_STATUS_ERRORS:
        raise GraphError(
            _TEMPLATE_STATUS_ERRORS[status],
            f"Template {request.template_name} ({request.language}) is {status.lower()}.",
        )
    if status != "APPROVED":
        raise GraphError(
            132001,
            f"template name ({request.template_name}) in {request.language} is not approved "
            f"(status {status})",
        )
    return entry


def _check_recipient(number: PhoneNumberConfig, request: SendRequest) -> None:
    if request.wa_id == _NON_DIGITS.sub("", number.display_phone_number):
        raise GraphError(131021, "The recipient is the sending phone number.")


def _check_limits(state: SandboxState, number: PhoneNumberConfig, wa_id: str) -> None:
    unlimited = state.limits.unlimited
    if not unlimited and not state.throughput.try_acquire(number.id, number.throughput_mps):
        raise GraphError(130429)
    code = state.faults.recipient_code(wa_id)
    if code is not None:
        raise ChosenRecipientError(code)
    if not unlimited and not state.pair_rate.try_acquire(number.id, wa_id):
        raise GraphError(131056)


def _success_body(message: AcceptedMessage) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": message.payload["to"], "wa_id": message.wa_id}],
        "messages": [{"id": message.wamid, "message_status": "accepted"}],
    }


async def _hold(state: SandboxState) -> bool:
    """Hold a "timed out" send; False when the sandbox stopped first (never answered)."""
    hold_ms = state.faults.config.timeout_hold_ms
    if hold_ms is None:
        await state.closing.wait()
        return False
    await state.clock.sleep(hold_ms / 1000.0)
    return not state.closing.is_set()


def _fault_names(decision: FaultDecision) -> tuple[str, ...]:
    names: list[str] = []
    if decision.latency_s:
        names.append("latency")
    if decision.server_error is not None:
        names.append(f"server_error:{decision.server_error}")
    elif decision.timeout:
        names.append("timeout")
    return tuple(names)


def _server_error(kind: ServerErrorKind, faults: tuple[str, ...]) -> GraphReply:
    if kind == "500":
        return GraphReply(status=500, body="Internal Server Error", faults=faults)
    if kind == "503":
        return GraphReply(status=503, body="Service Unavailable", faults=faults)
    return GraphReply.error(GraphError(131000 if kind == "500_graph" else 2), faults)
