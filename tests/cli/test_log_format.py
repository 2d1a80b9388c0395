"""MINDO_LOG_FORMAT=json: a server writes one JSON object per log line, tracebacks included."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from mindo_cli.log_format import JsonLines
from mindo_core.domain.errors import InvalidRequest
from mindo_core.settings import Settings
from tests.cli.bridge_child import run_bridge_until_healthy


async def test_the_bridge_logs_json_lines_when_asked() -> None:
    run = await run_bridge_until_healthy(
        {
            "MINDO_LOG_FORMAT": "json",
            "MINDO_LOG_LEVEL": "DEBUG",
            "MINDO_META_APP_SECRET": "",
            "MINDO_META_VERIFY_TOKEN": "",
        }
    )

    lines = run.stderr.splitlines()
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
