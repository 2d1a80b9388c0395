"""Phone numbers and templates are read with Graph's cursor paging, filters and fields."""

from __future__ import annotations

from typing import Any

from mindo_sandbox import SandboxConfig

from .graph_client import DEMO_NUMBER, DEMO_WABA, GraphClient, assert_graph_error

TEMPLATES = f"/v21.0/{DEMO_WABA}/message_templates"
DEMO_TEMPLATE_COUNT = 41  # 11 written out in demo.json and 30 generated demo_tpl_NN


async def all_pages(graph: GraphClient, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every page, following ``next`` like a Graph client does."""
    answer = await graph.get(TEMPLATES, params=params)
    pages = [answer.body]
    while "next" in answer.body.get("paging", {}):
        answer = await graph.request(
            "GET", answer.body["paging"]["next"], token="sandbox-demo-token"
        )
        assert answer.status == 200, answer.body
        pages.append(answer.body)
    return pages


def configured_template_ids() -> list[str]:
    return [t.id for t in SandboxConfig.demo().wabas[0].templates]


async def test_following_next_returns_every_template_exactly_once(graph: GraphClient) -> None:
    pages = await all_pages(graph, {"limit": "7"})

    ids = [t["id"] for page in pages for t in page["data"]]
    assert ids == configured_template_ids()
    assert len(ids) == DEMO_TEMPLATE_COUNT
    assert [len(page["data"]) for page in pages] == [7, 7, 7, 7, 7, 6]


async def test_the_default_page_is_25_templates_and_the_last_page_has_no_next(
    graph: GraphClient,
) -> None:
    pages = await all_pages(graph, {})

    assert [len(page["data"]) for page in pages] == [25, 16]
    assert "next" in pages[0]["paging"]
    assert "next" not in pages[1]["paging"]
    assert set(pages[1]["paging"]["cursors"]) == {"before", "after"}


async def test_next_is_an_absolute_url_that_keeps_the_query(graph: GraphClient) -> None:
    answer = await graph.get(TEMPLATES, params={"limit": "5", "status": "APPROVED"})

    next_url = answer.body["paging"]["next"]
    assert next_url.startswith(f"{graph.base_url}{TEMPLATES}?")
    assert "limit=5" in next_url
    assert "status=APPROVED" in next_url
    assert "after=" in next_url


async def test_the_before_cursor_goes_back_one_page(graph: GraphClient) -> None:
    first = await graph.get(TEMPLATES, params={"limit": "5"})
    second = await graph.request("GET", first.body["paging"]["next"], token="sandbox-demo-token")

    back = await graph.request("GET", second.body["paging"]["previous"], token="sandbox-demo-token")

    assert back.body["data"] == first.body["data"]
    assert "previous" not in first.body["paging"]


async def test_templates_come_in_metas_get_shape(graph: GraphClient) -> None:
    answer = await graph.get(TEMPLATES, params={"name": "verification_code"})

    assert answer.body["data"] == [
        {
            "name": "verification_code",
            "parameter_format": "NAMED",
            "components": [
                {
                    "type": "BODY",
                    "text": "Hola {{name}}, tu codigo es {{code}}.",
                    "example": {
                        "body_text_named_params": [
                            {"param_name": "name", "example": "Ana"},
                            {"param_name": "code", "example": "482913"},
                        ]
                    },
                }
            ],
            "language": "es",
            "status": "APPROVED",
            "category": "AUTHENTICATION",
            "id": "1258410395312602",
        }
    ]


async def test_templates_filter_by_status_name_and_language(graph: GraphClient) -> None:
    paused = await graph.get(TEMPLATES, params={"status": "PAUSED"})
    not_approved = await graph.get(TEMPLATES, params={"status": "PENDING,REJECTED,DISABLED"})
    by_name = await graph.get(TEMPLATES, params={"name": "order_update"})
    english = await graph.get(TEMPLATES, params={"language": "en"})
    approved = await all_pages(graph, {"status": "APPROVED"})

    assert [t["name"] for t in paused.body["data"]] == ["promo_paused"]
    assert [t["name"] for t in not_approved.body["data"]] == [
        "promo_pending",
        "promo_disabled",
        "promo_rejected",
    ]
    assert [t["language"] for t in by_name.body["data"]] == ["es", "en"]
    assert [(t["name"], t["language"]) for t in english.body["data"]] == [("order_update", "en")]
    assert sum(len(page["data"]) for page in approved) == DEMO_TEMPLATE_COUNT - 4


async def test_a_filter_matching_nothing_returns_empty_data(graph: GraphClient) -> None:
    answer = await graph.get(TEMPLATES, params={"language": "pt_BR"})

    assert answer.body == {"data": []}


async def test_fields_select_what_each_object_carries(graph: GraphClient) -> None:
    answer = await graph.get(TEMPLATES, params={"fields": "name,status", "limit": "2"})

    assert answer.body["data"] == [
        {"name": "welcome_message", "status": "APPROVED", "id": "1258410395312601"},
        {"name": "verification_code", "status": "APPROVED", "id": "1258410395312602"},
    ]


async def test_the_phone_numbers_of_a_business(graph: GraphClient) -> None:
    answer = await graph.get(f"/v21.0/{DEMO_WABA}/phone_numbers")

    assert answer.body["data"] == [
        {
            "verified_name": "Mindo Demo",
            "code_verification_status": "VERIFIED",
            "display_phone_number": "+54 9 223 675-0780",
            "quality_rating": "GREEN",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
            "whatsapp_business_manager_messaging_limit": "TIER_2K",
            "id": DEMO_NUMBER,
        }
    ]
    assert "next" not in answer.body["paging"]


async def test_one_phone_number_by_id(graph: GraphClient) -> None:
    full = await graph.get(f"/v21.0/{DEMO_NUMBER}")
    throughput = await graph.get(f"/v21.0/{DEMO_NUMBER}", params={"fields": "throughput"})
    limit = await graph.get(
        f"/v21.0/{DEMO_NUMBER}", params={"fields": "whatsapp_business_manager_messaging_limit"}
    )

    assert full.body["throughput"] == {"level": "STANDARD"}
    assert full.body["quality_rating"] == "GREEN"
    assert throughput.body == {"throughput": {"level": "STANDARD"}, "id": DEMO_NUMBER}
    assert limit.body == {
        "whatsapp_business_manager_messaging_limit": "TIER_2K",
        "id": DEMO_NUMBER,
    }


async def test_the_token_may_come_as_an_access_token_parameter(graph: GraphClient) -> None:
    answer = await graph.get(
        f"/v21.0/{DEMO_NUMBER}", token=None, params={"access_token": "sandbox-demo-token"}
    )

    assert answer.status == 200
    assert answer.body["id"] == DEMO_NUMBER


async def test_listing_errors_use_the_graph_envelope(graph: GraphClient) -> None:
    bad_cursor = await graph.get(TEMPLATES, params={"after": "bm90LWFuLWlk"})
    bad_limit = await graph.get(TEMPLATES, params={"limit": "0"})
    no_token = await graph.get(TEMPLATES, token=None)
    unknown = await graph.get("/v21.0/123456789/message_templates")
    not_a_business = await graph.get(f"/v21.0/{DEMO_NUMBER}/message_templates")

    invalid = "(#100) Invalid parameter"
    assert "cursor" in assert_graph_error(bad_cursor, status=400, code=100, message=invalid)
    assert "limit" in assert_graph_error(bad_limit, status=400, code=100, message=invalid)
    assert_graph_error(no_token, status=401, code=190, message="(#190) Invalid OAuth access token")
    assert assert_graph_error(unknown, status=400, code=100, message=invalid).startswith(
        "Unsupported get request"
    )
    assert "nonexisting field (message_templates)" in assert_graph_error(
        not_a_business, status=400, code=100, message=invalid
    )
