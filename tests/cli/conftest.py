"""The `mindo` operator commands, run in-process against a SQLite file and a live sandbox."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from mindo_cli.admin import register
from mindo_sandbox import SandboxConfig

from .background_sandbox import BackgroundSandbox, background_sandbox

DEMO_WABA = "104996122399160"
DEMO_TOKEN = "sandbox-demo-token"
# Smaller than the demo account's template count, so connecting must follow several pages.
PAGE_SIZE = 7

_NOISE = re.compile(r"[\s│╭╮╰╯─]+")


def said(text: str) -> str:
    """Output as one line: rich's wrapping and panel borders removed."""
    return _NOISE.sub(" ", text).strip()


@dataclass(frozen=True, kw_only=True)
class Mindo:
    """Runs `mindo ...` with a fixed environment; keeps every output for later checks."""

    app: typer.Typer
    env: Mapping[str, str | None]
    transcript: list[str] = field(default_factory=list)

    def run(self, *args: str, typed: str | None = None) -> Result:
        """``typed``: what the operator types at a prompt."""
        result = CliRunner().invoke(self.app, list(args), env=dict(self.env), input=typed)
        self.transcript.append(result.output)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str, typed: str | None = None) -> str:
        result = self.run(*args, typed=typed)
        assert result.exit_code == 0, result.output
        return said(result.output)

    def fails(self, *args: str, exit_code: int = 1) -> str:
        result = self.run(*args)
        assert result.exit_code == exit_code, result.output
        return said(result.output)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    demo = SandboxConfig.demo()
    return replace(demo, limits=replace(demo.limits, max_page_size=PAGE_SIZE))


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[BackgroundSandbox]:
    with background_sandbox(sandbox_config) as running:
        yield running


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "m.db"


@pytest.fixture
def mindo(
    sandbox: BackgroundSandbox, database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Mindo:
    # Run where no `mindo dev` key file (.mindo/secret.key) is: the commands look for one.
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()
    register(app)
    env = {
        "MINDO_DATABASE_URL": f"sqlite:///{database}",
        "MINDO_SECRET_KEY": "cli-tests-secret-key-0123456789abcdef",
        "MINDO_META_BASE_URL": sandbox.url,
        "MINDO_HTTP_ADDRESS": "127.0.0.1:8123",
        "MINDO_META_ACCESS_TOKEN": None,  # set on a developer's machine, it would fill prompts
    }
    return Mindo(app=app, env=env)
