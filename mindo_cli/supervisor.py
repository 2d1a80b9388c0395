"""`mindo dev`: the sandbox, the gRPC service and the REST bridge as three child processes.

Separate processes use both cores and fail independently; the supervisor starts them in order
(each waits until the previous one accepts connections), forwards Ctrl-C as SIGTERM to all,
and stops everything when any child dies. If the supervisor itself is killed outright
(SIGKILL: no handler runs), Linux sends each child SIGTERM (``PR_SET_PDEATHSIG``), so no
orphaned service keeps its ports.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mindo_core.settings import split_address

STARTUP_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    address: str


async def run_children(specs: Sequence[ChildSpec], env: Mapping[str, str]) -> int:
    children: list[asyncio.subprocess.Process] = []
    terminate_with_parent = _terminate_with_parent()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for spec in specs:
            child = await asyncio.create_subprocess_exec(
                *spec.argv, env=dict(env), preexec_fn=terminate_with_parent
            )
            children.append(child)
            ready = await _listening(spec.address, child, stop)
            if stop.is_set():
                return 0
            if not ready:
                print(f"mindo dev: {spec.name} did not start", file=sys.stderr)
                return 1
        waits = [asyncio.create_task(c.wait()) for c in children]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([*waits, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        return 0 if stop.is_set() else 1
    finally:
        await _terminate(children)


def _terminate_with_parent() -> Callable[[], None] | None:
    """What each child runs before exec: SIGTERM when this process dies (Linux; elsewhere
    nothing). ``prctl`` is looked up here, in the parent: between fork and exec only plain
    calls are safe. A parent gone before the call leaves the child to exit at once."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return in_child


_PR_SET_PDEATHSIG = 1


async def _listening(address: str, child: asyncio.subprocess.Process, stop: asyncio.Event) -> bool:
    host, port = split_address(address)
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_SECONDS
    while asyncio.get_running_loop().time() < deadline and not stop.is_set():
        if child.returncode is not None:
            return False
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False


async def _terminate(children: Sequence[asyncio.subprocess.Process]) -> None:
    for child in reversed(children):
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            await asyncio.wait_for(child.wait(), timeout=10)
        except TimeoutError:
            child.kill()


def mindo_argv(*args: str) -> list[str]:
    """Runs a `mindo` sub-command with this interpreter, whatever PATH says."""
    return [sys.executable, "-m", "mindo_cli", *args]


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
