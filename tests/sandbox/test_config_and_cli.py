"""The configuration (demo account, files, validation) and the command line."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mindo_sandbox import ConfigError, SandboxConfig, start_sandbox
from mindo_sandbox.cli import build_parser, config_from_args, main


def test_the_demo_account() -> None:
    [waba] = SandboxConfig.demo().wabas

    assert (waba.waba_id, waba.name, waba.access_tokens) == (
        "104996122399160",
        "Mindo Demo",
        ("sandbox-demo-token",),
    )
    [number] = waba.phone_numbers
    assert (number.id, number.display_phone_number, number.verified_name) == (
        "813497231850626",
        "+54 9 223 675-0780",
        "Mindo Demo",
    )
    assert (number.quality_rating, number.throughput_level, number.throughput_mps) == (
        "GREEN",
        "STANDARD",
        80,
    )
    statuses = {t.name: t.status for t in waba.templates}
    assert [n for n, s in statuses.items() if s == "APPROVED"][:4] == [
        "welcome_message",
        "verification_code",
        "order_update",
        "event_reminder",
    ]
    assert statuses["class_reminder"] == "APPROVED"
    assert (statuses["promo_pending"], statuses["promo_paused"]) == ("PENDING", "PAUSED")
    assert sum(1 for n in statuses if n.startswith("demo_tpl_")) == 30


def minimal_config(**waba: Any) -> dict[str, Any]:
    return {
        "wabas": [
            {
                "waba_id": "1",
                "name": "Acme",
                "access_token": "t",
                "phone_numbers": [
                    {"id": "2", "display_phone_number": "+1 555-0100", "verified_name": "Acme"}
                ],
                "templates": [{"name": "hello", "language": "en", "components": []}],
                **waba,
            }
        ],
        "limits": {"pair_capacity": 5},
        "faults": {"seed": 3, "latency_ms": [1, 2], "recipient_errors": {"+1 555 0199": 131026}},
    }


def test_a_config_file_with_defaults_filled_in(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps(minimal_config()))

    config = SandboxConfig.load(path)

    [waba] = config.wabas
    [number] = waba.phone_numbers
    [template] = waba.templates
    assert (number.throughput_mps, number.messaging_limit) == (80, "TIER_250")
    assert (template.status, template.parameter_format, len(template.id)) == (
        "APPROVED",
        "POSITIONAL",
        16,
    )
    assert config.limits.pair_capacity == 5
    assert config.faults.latency_ms == (1.0, 2.0)
    assert config.faults.recipient_errors["15550199"].codes == (131026,)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"access_token": None}, "access_token"),
        ({"colour": "blue"}, "colour"),
        (
            {"phone_numbers": [{"id": "1", "display_phone_number": "x", "verified_name": "y"}]},
            "twice",
        ),
        (
            {"templates": [{"name": "a", "language": "en"}, {"name": "a", "language": "en"}]},
            "twice",
        ),
        (
            {"templates": [{"name": "a", "language": "en", "parameter_format": "X"}]},
            "parameter_format",
        ),
        ({"generated_templates": -1}, "generated_templates"),
    ],
)
def test_an_invalid_config_says_what_is_wrong(change: dict[str, Any], complaint: str) -> None:
    data = minimal_config(**change)
    if change.get("access_token", "") is None:
        del data["wabas"][0]["access_token"]

    with pytest.raises(ConfigError, match=complaint):
        SandboxConfig.from_json(data)


def test_command_line_flags_override_the_config() -> None:
    args = build_parser().parse_args(
        [
            "--mps",
            "20",
            "--latency-ms",
            "10-50",
            "--error-rate",
            "0.1",
            "--error-kinds",
            "503_graph",
            "--timeout-rate",
            "0.01",
            "--timeout-ms",
            "never",
            "--recipient-error",
            "5491100000001=131026",
            "--recipient-error",
            "5491100000002=131000,131000",
            "--seed",
            "9",
            "--pair-capacity",
            "4",
        ]
    )

    config = config_from_args(args)

    assert config.wabas[0].phone_numbers[0].throughput_mps == 20
    assert config.limits.pair_capacity == 4
    faults = config.faults
    assert (faults.latency_ms, faults.server_error_rate, faults.server_errors) == (
        (10.0, 50.0),
        0.1,
        ("503_graph",),
    )
    assert (faults.timeout_rate, faults.timeout_hold_ms, faults.seed) == (0.01, None, 9)
    assert faults.recipient_errors["5491100000001"].code_for_attempt(5) == 131026
    assert faults.recipient_errors["5491100000002"].code_for_attempt(3) is None


def test_a_bad_config_file_exits_with_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.json"

    assert main(["--config", str(missing)]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_a_bad_flag_value_exits_with_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--error-rate", "3"]) == 2
    assert "server_error_rate" in capsys.readouterr().err


async def test_python_m_mindo_sandbox_serves_until_terminated() -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "mindo_sandbox", "--port", "0", "--log-level", "WARNING"),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        url = line.strip().rsplit(" ", 1)[-1]
        async with aiohttp.ClientSession() as session, session.get(f"{url}/_sandbox/health") as r:
            health = await r.json()
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert line.startswith("Meta sandbox listening on http://127.0.0.1:")
    assert health == {"status": "ok"}
    assert exit_code == 0


async def test_the_access_log_never_shows_a_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mindo_sandbox")
    sandbox = await start_sandbox(SandboxConfig.demo(), access_log=True)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"{sandbox.url}/v21.0/813497231850626?access_token=sandbox-demo-token"
            async with session.get(url) as response:
                assert response.status == 200
    finally:
        await sandbox.stop()

    assert "GET /v21.0/813497231850626 200" in caplog.text
    assert "sandbox-demo-token" not in caplog.text
