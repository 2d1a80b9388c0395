"""The CLI's one error boundary: whatever a command raises becomes one line on stderr and a
non-zero exit code, never a traceback.

``ErrorBoundary`` is the click group class of the `mindo` application and of its command
groups; ``explain`` is the table of what each kind of error means for the operator. An error
it does not know still prints one line; MINDO_TRACEBACK=1 shows the traceback instead, for
whoever debugs Mindo itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import TyperException

from mindo_cli.secret_file import key_file_hint
from mindo_core.adapters.crypto import SecretKeyError, TokenDecryptionError
from mindo_core.adapters.engine_lock import EngineAlreadyRunning
from mindo_core.domain.errors import MindoError

EXIT_FAILED = 1


class CliError(Exception):
    """A command cannot go on; the message says why and, when known, what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _undecryptable(error: Exception) -> str:
    return f"{error} {key_file_hint() or ''}".strip()


def _unusable_key(error: Exception) -> str:
    hint = key_file_hint()
    return f"MINDO_SECRET_KEY cannot be used. {hint}" if hint else str(error)


def _message(error: Exception) -> str:
    return getattr(error, "message", None) or str(error)


# Error → what the operator reads; the first kind that matches says it.
_EXPLAINED: tuple[tuple[type[Exception], Callable[[Exception], str]], ...] = (
    (CliError, _message),
    (MindoError, _message),
    (EngineAlreadyRunning, _message),
    (TokenDecryptionError, _undecryptable),
    (SecretKeyError, _unusable_key),
)


def explain(error: Exception) -> str:
    """The one line an operator reads for ``error``."""
    for kind, said in _EXPLAINED:
        if isinstance(error, kind):
            return said(error)
    database = _database_problem(error)
    if database is not None:
        return database
    return f"unexpected {type(error).__name__}: {error} (MINDO_TRACEBACK=1 shows where)"


def _database_problem(error: Exception) -> str | None:
    # Named, not imported: the database stack is loaded only by the commands that use it.
    if type(error).__module__.startswith("sqlalchemy"):
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return f"the database (MINDO_DATABASE_URL) cannot be used: {reason}"
    return None


def fail(message: str, *, exit_code: int = EXIT_FAILED) -> NoReturn:
    """Prints ``message`` as the command's error and ends it."""
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(exit_code)


class ErrorBoundary(TyperGroup):
    """Runs a command; an error it raises is explained in one line (exit code 1)."""

    def invoke(self, ctx: Any) -> Any:  # Any: the Context class typer vendors is private
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):  # click's own: usage, exits
            raise
        except Exception as error:
            if os.environ.get("MINDO_TRACEBACK"):
                raise
            fail(explain(error))
