"""MINDO_LOG_FORMAT=json: a server writes one JSON object per log line, tracebacks included."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys

import aiohttp
import pytest

from mindo_cli.log_format import JsonLines
from mindo_core.domain.errors import InvalidRequest
from mindo_core.settings import Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_bridge_logs_json_lines_when_asked() -> None:
    port = _free_port()
    env = {
        **os.environ,
        "MINDO_LOG_FORMAT": "json",
        "MINDO_LOG_LEVEL": "DEBUG",
        "MINDO_HTTP_ADDRESS": f"127.0.0.1:{port}",
        "MINDO_GRPC_ADDRESS": "127.0.0.1:1",
        "MINDO_META_APP_SECRET": "",
        "MINDO_META_VERIFY_TOKEN": "",
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mindo_cli", "bridge", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
                        assert answer.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the bridge never answered /healthz")
    finally:
        child.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(child.communicate(), 20)

    lines = errors.decode().splitlines()
    parsed = [json.loads(line) for line in lines]
    assert parsed, "the bridge logged nothing"
    assert all({"time", "level", "logger", "message"} <= set(line) for line in parsed)
    assert any(
        line["level"] == "WARNING" and "MINDO_META_APP_SECRET" in line["message"] for line in parsed
    )
    assert any("/healthz" in line["message"] for line in parsed)  # the access log too


def test_a_traceback_stays_inside_its_one_line() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = logging.LogRecord(
            "mindo.test", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )

    text = JsonLines().format(record)

    assert "\n" not in text
    line = json.loads(text)
    assert (line["level"], line["logger"], line["message"]) == (
        "ERROR",
        "mindo.test",
        "failed here",
    )
    assert "ValueError: bad\nthing" in line["exception"]
    assert line["time"].endswith("+00:00")


@pytest.mark.parametrize(("raw", "expected"), [("", "text"), ("JSON", "json"), ("text", "text")])
def test_the_log_format_is_text_or_json(raw: str, expected: str) -> None:
    assert Settings.from_env({"MINDO_LOG_FORMAT": raw}).log_format == expected


def test_another_log_format_is_refused_at_start() -> None:
    with pytest.raises(InvalidRequest) as raised:
        Settings.from_env({"MINDO_LOG_FORMAT": "xml"})

    assert "MINDO_LOG_FORMAT" in str(raised.value.field_errors)
