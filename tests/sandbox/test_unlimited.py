"""``--unlimited``: a sandbox that is never the bottleneck (no 130429, no 131056), for measuring
a client's own ceiling. Chosen recipient errors still apply."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mindo_sandbox import FaultConfig, LimitsConfig, SandboxConfig
from mindo_sandbox.cli import build_parser, config_from_args

from .graph_client import GraphClient, order_update, recipients, send_all

FLAKY = "5491199999999"


@pytest.fixture
def config() -> SandboxConfig:
    """Five messages/s and a pair-rate burst of three, both switched off."""
    demo = SandboxConfig.demo().with_mps(5)
    faults = FaultConfig.from_json({"recipient_errors": {FLAKY: 131026}})
    limits = LimitsConfig(pair_capacity=3, unlimited=True)
    return replace(demo, limits=limits, faults=faults)


async def test_many_more_sends_than_the_throughput_all_pass(graph: GraphClient) -> None:
    answers = await send_all(graph, recipients(40))

    assert [a.status for a in answers] == [200] * 40


async def test_many_sends_to_one_recipient_all_pass(graph: GraphClient) -> None:
    answers = [await graph.send(order_update(to="5491100000001")) for _ in range(10)]

    assert [a.status for a in answers] == [200] * 10


async def test_a_chosen_recipient_error_still_applies(graph: GraphClient) -> None:
    answer = await graph.send(order_update(to=FLAKY))

    assert (answer.status, answer.body["error"]["code"]) == (400, 131026)


def test_the_flag_and_the_config_key() -> None:
    assert config_from_args(build_parser().parse_args(["--unlimited"])).limits.unlimited
    assert not config_from_args(build_parser().parse_args([])).limits.unlimited
    assert LimitsConfig.from_json({"unlimited": True}).unlimited
    with pytest.raises(ValueError, match="unlimited"):
        LimitsConfig.from_json({"unlimited": "yes"})
