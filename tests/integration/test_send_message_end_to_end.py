"""SendMessage through the real stack: gRPC over a socket, Meta's protocol over HTTP to the
sandbox, a SQLite file. Every outcome has its status code, stable error code and record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from mindo_grpc._pb.mindo.v1 import mindo_pb2 as pb
from mindo_grpc.status_details import ErrorDetails, from_rpc_error
from mindo_sandbox.faults import FaultConfig
from tests.integration.real_stack import RealStack, real_stack

NUMBER = "813497231850626"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as running:
        yield running


def welcome(**overrides: object) -> pb.SendMessageRequest:
    fields: dict[str, object] = {
        "phone_number_id": NUMBER,
        "template_name": "welcome_message",
        "recipient_phone": "+54 9 11 1234-5678",
        "variables": {"name": "Juan Perez", "code": "ABC123"},
        "button_variables": {"button_0": "ABC-123"},
    }
    fields.update(overrides)
    return pb.SendMessageRequest(**fields)  # type: ignore[arg-type]


async def refused(
    stack: RealStack, request: pb.SendMessageRequest, key: str | None = None
) -> ErrorDetails:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.SendMessage(request, metadata=stack.metadata(key))
    return from_rpc_error(raised.value)


async def test_a_message_goes_to_meta_with_the_exact_payload_and_is_recorded(
    stack: RealStack,
) -> None:
    answer = await stack.stub.SendMessage(welcome(), metadata=stack.metadata())

    assert answer.message_id.startswith("wamid.")
    assert answer.status == "sent"
    assert answer.recipient_phone == "+5491112345678"
    assert stack.sent_payloads() == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "5491112345678",
            "type": "template",
            "template": {
                "name": "welcome_message",
                "language": {"code": "es", "policy": "deterministic"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "parameter_name": "name", "text": "Juan Perez"},
                            {"type": "text", "parameter_name": "code", "text": "ABC123"},
                        ],
                    },
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": "0",
                        "parameters": [{"type": "text", "text": "ABC-123"}],
                    },
                ],
            },
        }
    ]
    assert stack.message_rows() == [(answer.message_id, "sent", "+5491112345678")]


async def test_a_defaulted_variable_is_filled_so_meta_never_gets_an_empty_parameter(
    stack: RealStack,
) -> None:
    await stack.stub.SendMessage(
        welcome(variables={"name": "Juan Perez"}, button_variables={}), metadata=stack.metadata()
    )
    (payload,) = stack.sent_payloads()
    body, button = payload["template"]["components"]  # type: ignore[index]
    assert body["parameters"][1] == {"type": "text", "parameter_name": "code", "text": "BIENVENIDA"}
    assert button["parameters"] == [{"type": "text", "text": "inicio"}]


@pytest.mark.parametrize(
    ("request_", "status", "code"),
    [
        (
            welcome(recipient_phone="12345"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_phone_number",
        ),
        (
            welcome(variables={"name": "a\nb"}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "template_parameters",
        ),
        (
            welcome(variables={"nombre": "x"}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "template_parameters",
        ),
        (welcome(phone_number_id="1"), grpc.StatusCode.NOT_FOUND, "phone_number_not_found"),
        (welcome(template_name="nope"), grpc.StatusCode.NOT_FOUND, "template_not_found"),
        (welcome(language="en"), grpc.StatusCode.NOT_FOUND, "template_not_found"),
        (
            welcome(template_name="promo_pending", variables={}, button_variables={}),
            grpc.StatusCode.FAILED_PRECONDITION,
            "template_not_approved",
        ),
    ],
)
async def test_bad_input_has_its_status_and_code_and_changes_nothing(
    stack: RealStack, request_: pb.SendMessageRequest, status: grpc.StatusCode, code: str
) -> None:
    error = await refused(stack, request_)

    assert (error.status, error.code) == (status, code)
    assert stack.sent_payloads() == []
    assert stack.message_rows() == []


async def test_template_errors_carry_metas_code_and_the_offending_field(stack: RealStack) -> None:
    error = await refused(stack, welcome(variables={"name": "tab\there", "code": "X"}))
    assert error.metadata["meta_code"] == "132018"
    assert "variables.name" in error.field_errors


@pytest.mark.parametrize(
    ("key", "code", "message"),
    [
        (
            "",
            "api_key_missing",
            "Este endpoint requiere autenticacion con API Key (header X-API-Key)",
        ),
        ("mindo_" + "Z" * 24, "api_key_expired", "API Key expirada"),
    ],
)
async def test_keys_are_checked_before_anything_else(
    stack: RealStack, key: str, code: str, message: str
) -> None:
    error = await refused(stack, welcome(template_name="nope"), key)
    assert (error.status, error.code, error.message) == (
        grpc.StatusCode.UNAUTHENTICATED,
        code,
        message,
    )


async def test_a_read_only_key_may_not_send(stack: RealStack) -> None:
    issued = await stack.services.api_keys.issue("Mindo Demo", scopes=frozenset({"read"}))
    error = await refused(stack, welcome(), issued.plaintext)
    assert (error.status, error.code) == (grpc.StatusCode.PERMISSION_DENIED, "api_key_forbidden")


async def test_a_refusal_by_meta_is_reported_with_metas_code_and_recorded_as_failed(
    stack: RealStack,
) -> None:
    stack.sandbox.state.set_faults(
        FaultConfig.from_json({"recipient_errors": {"5491112345678": 131026}})
    )
    error = await refused(stack, welcome())

    assert (error.status, error.code) == (grpc.StatusCode.FAILED_PRECONDITION, "meta_error")
    assert error.metadata["meta_code"] == "131026"
    assert stack.message_rows() == [(None, "failed", "+5491112345678")]


async def test_meta_not_answering_is_unavailable_and_retryable(stack: RealStack) -> None:
    stack.sandbox.state.set_faults(
        FaultConfig.from_json({"server_error_rate": 1.0, "server_errors": ["503"]})
    )
    error = await refused(stack, welcome())
    assert (error.status, error.code) == (grpc.StatusCode.UNAVAILABLE, "meta_unavailable")


async def test_a_transient_meta_error_is_unavailable_with_metas_code(stack: RealStack) -> None:
    stack.sandbox.state.set_faults(
        FaultConfig.from_json({"server_error_rate": 1.0, "server_errors": ["503_graph"]})
    )
    error = await refused(stack, welcome())
    assert (error.status, error.code) == (grpc.StatusCode.UNAVAILABLE, "meta_unavailable")
    assert error.metadata["retryable"] == "true"
    assert error.metadata["meta_code"] in {"2", "131000"}


async def test_meta_timing_out_is_unavailable(stack: RealStack) -> None:
    stack.sandbox.state.set_faults(
        FaultConfig.from_json({"timeout_rate": 1.0, "timeout_hold_ms": 4000})
    )
    error = await refused(stack, welcome())
    assert (error.status, error.code) == (grpc.StatusCode.UNAVAILABLE, "meta_unavailable")


async def test_health_and_reflection_let_any_client_discover_the_service(
    stack: RealStack,
) -> None:
    health = health_pb2_grpc.HealthStub(stack.channel)
    checked = await health.Check(health_pb2.HealthCheckRequest(service="mindo.v1.Mindo"))
    assert checked.status == health_pb2.HealthCheckResponse.SERVING

    reflection = reflection_pb2_grpc.ServerReflectionStub(stack.channel)
    ask = reflection_pb2.ServerReflectionRequest(list_services="")
    async for answer in reflection.ServerReflectionInfo(iter([ask])):
        names = {s.name for s in answer.list_services_response.service}
        break
    assert {"mindo.v1.Mindo", "grpc.health.v1.Health"} <= names


async def test_rest_maps_the_real_services_answers_to_the_documented_bodies(
    stack: RealStack,
) -> None:
    url = f"{stack.bridge.url}/api/v1/meta-templates/send/"
    headers = {"X-API-Key": stack.api_key}
    base = {"phone_number_id": NUMBER, "recipient_phone": "+5491112345678"}
    cases = [
        (
            {**base, "template_name": "promo_pending"},
            400,
            {"error": "Template 'promo_pending' no tiene estado APPROVED"},
        ),
        (
            {**base, "template_name": "nope"},
            404,
            {"error": "Template 'nope' (language: es) no encontrado en este business account"},
        ),
        (
            {**base, "template_name": "welcome_message", "phone_number_id": "42"},
            404,
            {"error": "Numero de WhatsApp con ID '42' no encontrado"},
        ),
    ]
    async with aiohttp.ClientSession() as http:
        for body, status, expected in cases:
            async with http.post(url, json=body, headers=headers) as answer:
                assert (answer.status, await answer.json()) == (status, expected)
        ok = {
            **base,
            "template_name": "order_update",
            "variables": {"order_id": "ORD-001", "status": "In transit"},
        }
        async with http.post(url, json=ok, headers=headers) as answer:
            sent = await answer.json()
    assert answer.status == 200
    assert list(sent) == [
        "success",
        "message_id",
        "template_name",
        "recipient_phone",
        "status",
        "sent_at",
    ]
    assert stack.message_rows() == [(sent["message_id"], "sent", "+5491112345678")]


async def test_an_error_about_10000_unknown_variables_reaches_the_client_whole_and_bounded(
    stack: RealStack,
) -> None:
    unknown = {f"unknown_variable_{i:05d}_{'x' * 60}": "v" for i in range(10_000)}
    request = welcome(variables={"name": "Juan Perez", "code": "ABC123", **unknown})

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.stub.SendMessage(request, metadata=stack.metadata())

    details = from_rpc_error(raised.value)
    assert details.status == grpc.StatusCode.INVALID_ARGUMENT
    assert details.code == "template_parameters"
    assert details.message.endswith("(9,900 more fields with problems)")
    # The core lists 100 fields; the trailers hold what fits and count the rest.
    unlisted = int(details.metadata["unlisted_field_errors"])
    assert details.field_errors
    assert len(details.field_errors) + unlisted == 100
    trailers = sum(len(k) + len(v) for k, v in (raised.value.trailing_metadata() or ()))
    assert trailers < 16 * 1024
