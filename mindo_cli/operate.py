"""What every operator command shares: the settings from the environment, running one use case
over freshly opened services, the command decorator and the parsing of names.

Each command opens the services from the environment (MINDO_DATABASE_URL, MINDO_SECRET_KEY,
MINDO_META_BASE_URL...), does one use case, and prints what happened and what to do next.
Meta access tokens are only ever passed to the use case: never logged, echoed nor printed back.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from mindo_cli.errors import CliError, ErrorBoundary
from mindo_cli.secret_file import key_file_hint, with_dev_secret_key
from mindo_core.settings import Settings

if TYPE_CHECKING:
    from mindo_core.bootstrap import Services

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., None])

OrgOption = Annotated[str, typer.Option("--org", help="Name of the organisation.")]


def command_group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, cls=ErrorBoundary)


def command(app: typer.Typer, name: str) -> Callable[[F], F]:
    """``app.command`` with the docstring as help, its paragraphs reflowed: Typer keeps a
    docstring's line breaks, which the help screen then wraps a second time."""

    def decorate(function: F) -> F:
        app.command(name, help=reflowed_help(function))(function)
        return function

    return decorate


def reflowed_help(function: Callable[..., object]) -> str:
    paragraphs = inspect.cleandoc(function.__doc__ or "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def out() -> Console:
    # Made per command, not at import: the console reads the terminal (and COLUMNS) when built.
    return Console(soft_wrap=True)


def operator_settings() -> Settings:
    """The environment's settings, with `mindo dev`'s secret key when that is the one to use."""
    settings = with_dev_secret_key(Settings.from_env(os.environ))
    hint = key_file_hint()
    if not settings.secret_key and hint:
        raise CliError(f"MINDO_SECRET_KEY: is required: it encrypts Meta access tokens. {hint}")
    return settings


def operate(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Runs one use case over freshly opened services, closed again afterwards."""

    # Imported here, not at the top: it loads the database and HTTP stacks, which `mindo
    # --help` and the other commands should not wait for.
    from mindo_core.bootstrap import open_services

    async def run() -> T:
        async with open_services(settings) as services:
            return await work(services)

    return asyncio.run(run())


def required_name(value: str, flag: str) -> str:
    name = value.strip()
    if not name:
        raise typer.BadParameter("must not be empty", param_hint=flag)
    return name
