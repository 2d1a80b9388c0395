"""Webhook settings: the ``webhooks`` section of the config file, the flags, the admin API."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from mindo_sandbox import ConfigError, SandboxConfig, StatusShares, WebhookConfig
from mindo_sandbox.cli import build_parser, config_from_args
from mindo_sandbox.status_plan import OutcomeDeck

from .graph_client import GraphClient


def test_the_webhooks_section_of_a_config_file() -> None:
    demo = SandboxConfig.demo()
    section = {
        "callback_url": "http://127.0.0.1:8000/webhooks/meta",
        "app_secret": "s3cret",
        "seed": 7,
        "shares": {"delivered": 0.9, "read": 0.6},
        "failures": {"+54 9 11 0000-0001": 131026},
        "delays_ms": {"sent": 100, "delivered": [1000, 3000]},
        "batch_size": 20,
        "duplicate_rate": 0.01,
    }

    config = SandboxConfig.from_json({"wabas": [], "webhooks": section}).webhooks

    assert demo.webhooks.callback_url is None  # the demo posts nothing
    assert (config.callback_url, config.app_secret, config.seed) == (
        "http://127.0.0.1:8000/webhooks/meta",
        "s3cret",
        7,
    )
    assert config.shares == StatusShares(delivered=0.9, read=0.6)
    assert config.failures == {"5491100000001": 131026}
    assert (config.delays_ms.sent, config.delays_ms.delivered, config.delays_ms.read) == (
        (100.0, 100.0),
        (1000.0, 3000.0),
        (2000.0, 10000.0),  # the default
    )
    assert (config.batch_size, config.duplicate_rate, config.reorder_rate) == (20, 0.01, 0.0)
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("section", "complaint"),
    [
        ({"shares": {"delivered": 0.5, "read": 0.6}}, "read"),
        ({"callback_url": "ftp://example.com"}, "callback_url"),
        ({"failures": {"5491100000001": "131026"}}, "failures"),
        ({"batch_size": 0}, "batch_size"),
        ({"duplicate_rate": 1.5}, "duplicate_rate"),
        ({"delays_ms": {"read": [3, 1]}}, "read"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_webhook_settings_say_what_is_wrong(
    section: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        WebhookConfig.from_json(section)


def test_command_line_flags_for_webhooks() -> None:
    args = build_parser().parse_args(
        [
            "--webhook-url",
            "http://127.0.0.1:9000/hook",
            "--app-secret",
            "s3cret",
            "--webhook-shares",
            "0.9,0.6",
            "--webhook-failure",
            "5491100000001=131026",
            "--webhook-failure",
            "5491100000002=131049",
            "--webhook-batch",
            "10",
        ]
    )

    webhooks = config_from_args(args).webhooks

    assert (webhooks.callback_url, webhooks.app_secret) == ("http://127.0.0.1:9000/hook", "s3cret")
    assert webhooks.shares == StatusShares(delivered=0.9, read=0.6)
    assert webhooks.failures == {"5491100000001": 131026, "5491100000002": 131049}
    assert webhooks.batch_size == 10


async def test_the_admin_api_replaces_the_settings_and_never_shows_the_secret(
    graph: GraphClient,
) -> None:
    settings = {"callback_url": "http://127.0.0.1:9/hook", "app_secret": "s3cret", "seed": 5}

    put = await graph.admin("PUT", "/webhooks", settings)
    got = await graph.admin("GET", "/webhooks")
    refused = await graph.admin("PUT", "/webhooks", {"shares": {"read": 2}})
    kept = await graph.admin("GET", "/webhooks")

    assert put.status == 200
    assert put.body == got.body
    assert (got.body["callback_url"], got.body["app_secret"], got.body["seed"]) == (
        "http://127.0.0.1:9/hook",
        "***",
        5,
    )
    assert refused.status == 400
    assert "read" in refused.body["error"]
    assert kept.body == got.body


@pytest.mark.parametrize(
    ("delivered", "read", "deck"),
    [
        (0.9, 0.6, {"read": 6, "delivered": 3, "sent": 1}),
        (1.0, 0.0, {"delivered": 1}),
        (0.95, 0.5, {"read": 10, "delivered": 9, "sent": 1}),
        (0.333, 0.0, {"delivered": 333, "sent": 667}),
    ],
)
def test_every_complete_deck_of_outcomes_follows_the_shares_exactly(
    delivered: float, read: float, deck: dict[str, int]
) -> None:
    outcomes = OutcomeDeck(StatusShares(delivered=delivered, read=read), random.Random(1))
    size = sum(deck.values())

    dealt = [outcomes.deal() for _ in range(3 * size)]

    assert outcomes.size == size
    for start in range(0, 3 * size, size):
        assert Counter(dealt[start : start + size]) == deck
    assert dealt[:size] != dealt[size : 2 * size] or size < 3  # each deck is shuffled anew
