"""GET /api/v1/business-info/: the business that owns the API key (camelCase, read-only)."""

from __future__ import annotations

from aiohttp import web

from mindo_grpc._pb.mindo.v1 import mindo_pb2
from rest_bridge import openapi
from rest_bridge.api_key import api_key
from rest_bridge.problems import json_response
from rest_bridge.routes.spec import Route
from rest_bridge.upstream import upstream

PATH = "/api/v1/business-info/"

# The documented companySizeDisplay for each size.
SIZE_DISPLAY = {
    "MICRO": "1-10 empleados (Micro)",
    "SMALL": "11-50 empleados (Pequeña)",
    "MEDIUM": "51-250 empleados (Mediana)",
    "LARGE": "251-1000 empleados (Grande)",
    "ENTERPRISE": "1000+ empleados (Corporativa)",
}


async def business_info(request: web.Request) -> web.Response:
    key = api_key(request)
    service = upstream(request)
    reply = await service.call(
        service.stub.GetBusinessInfo, mindo_pb2.GetBusinessInfoRequest(), api_key=key
    )
    return json_response(to_body(reply))


def to_body(reply: mindo_pb2.BusinessInfo) -> dict[str, object]:
    size = reply.company_size or None
    return {
        "id": reply.id,
        "name": reply.name,
        "email": reply.email or None,
        "phone": reply.phone or None,
        "website": reply.website or None,
        "address": reply.address or None,
        "description": reply.description or None,
        "timezone": reply.timezone,
        "companySize": size,
        "companySizeDisplay": SIZE_DISPLAY.get(size) if size else None,
        "companyTypes": list(reply.company_types),
        "categories": list(reply.categories),
    }


_EXAMPLE = {
    "id": 12,
    "name": "Mi Empresa SRL",
    "email": "contacto@miempresa.com",
    "phone": "+54 9 223 675-0780",
    "website": "https://miempresa.com",
    "address": "Av. Siempre Viva 123, Mar del Plata",
    "description": "Tienda de indumentaria deportiva.",
    "timezone": "America/Argentina/Buenos_Aires",
    "companySize": "SMALL",
    "companySizeDisplay": "11-50 empleados (Pequeña)",
    "companyTypes": ["ECOMMERCE"],
    "categories": ["Indumentaria", "Retail"],
}

OPERATION = {
    "operationId": "getBusinessInfo",
    "summary": "The business that owns the API key",
    "description": (
        "Name, contact details, address, time zone, size, company types and categories of "
        "the key's organisation (set by operators with `mindo orgs update`). Unset text "
        "fields are null. Needs the read scope."
    ),
    "responses": {
        "200": openapi.response("The business.", {"type": "object"}, {"OK": _EXAMPLE}),
        **openapi.common_error_responses(calls_service=True),
    },
}

ROUTES = (Route(method="GET", path=PATH, handler=business_info, operation=OPERATION),)
