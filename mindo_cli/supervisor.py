"""`mindo dev`: the sandbox, the gRPC service and the REST bridge as three child processes.

Separate processes use both cores and fail independently; the supervisor starts them in order
(each waits until the previous one accepts connections), each in a process group of its own,
forwards Ctrl-C as one SIGTERM to each, and stops everything when any child dies, saying which,
how (exit code or signal) and its last lines of stderr (each child's stderr passes through the
supervisor, which keeps the last few). If the supervisor itself is killed outright (SIGKILL: no
handler runs), Linux sends each child SIGTERM (``PR_SET_PDEATHSIG``), so no orphaned service
keeps its ports.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from mindo_core.settings import split_address

STARTUP_TIMEOUT_SECONDS = 60.0
# How much of a dead child's stderr the supervisor repeats when it says why everything stopped.
LAST_LINES = 15


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    address: str


@dataclass
class _Child:
    """A running child, and the last lines it wrote to stderr."""

    spec: ChildSpec
    process: asyncio.subprocess.Process
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=LAST_LINES))
    relay: asyncio.Task[None] | None = None

    def how_it_ended(self) -> str:
        code = self.process.returncode
        if code is not None and code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"


async def run_children(specs: Sequence[ChildSpec], env: Mapping[str, str]) -> int:
    children: list[_Child] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await _supervise(specs, env, children, stop)
    finally:
        await _terminate(children)
        # Removed before asyncio.run closes the loop's self-pipe, for the same reason.
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _supervise(
    specs: Sequence[ChildSpec], env: Mapping[str, str], children: list[_Child], stop: asyncio.Event
) -> int:
    terminate_with_parent = _terminate_with_parent()
    for spec in specs:
        process = await asyncio.create_subprocess_exec(
            *spec.argv,
            env=dict(env),
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=terminate_with_parent,
            # Out of the terminal's process group: Ctrl-C reaches the supervisor alone, and each
            # child gets one SIGTERM from it. Given the terminal's SIGINT as well, a child
            # could take the second signal while closing its event loop, after the loop's
            # self-pipe is closed but before its handlers are removed: "OSError: [Errno 9] Bad
            # file descriptor" from the signal wakeup fd.
            process_group=0,
        )
        child = _Child(spec, process)
        child.relay = asyncio.create_task(_relay_stderr(child))
        children.append(child)
        ready = await _listening(spec.address, process, stop)
        if stop.is_set():
            return 0
        if not ready:
            ended = process.returncode is not None
            how = (
                f": it {child.how_it_ended()}"
                if ended
                else f" within {STARTUP_TIMEOUT_SECONDS:.0f} s"
            )
            await _report(child, f"did not start{how}")
            return 1
    waits = {asyncio.create_task(c.process.wait()): c for c in children}
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*waits, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if stop.is_set():
        return 0
    dead = next(waits[task] for task in done if task in waits)
    await _report(dead, f"stopped: it {dead.how_it_ended()}")
    return 1


async def _relay_stderr(child: _Child) -> None:
    """Passes the child's stderr on as it comes, keeping its last lines."""
    stream = child.process.stderr
    assert stream is not None
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line over the stream's limit, dropped: read on
            continue
        if not line:
            return
        text = line.decode(errors="replace")
        child.last_lines.append(text.rstrip("\n"))
        sys.stderr.write(text)
        sys.stderr.flush()


async def _report(child: _Child, what: str) -> None:
    if child.relay is not None and child.process.returncode is not None:
        # Its last words, once it has no more to write.
        await asyncio.wait([child.relay], timeout=1.0)
    lines = "".join(f"\n  | {line}" for line in child.last_lines)
    said = f"; its last lines of stderr:{lines}" if lines else "; it wrote nothing to stderr"
    print(f"mindo dev: the {child.spec.name} {what}{said}", file=sys.stderr)
    print("mindo dev: stopping the others.", file=sys.stderr)


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


async def _terminate(children: Sequence[_Child]) -> None:
    for child in reversed(children):
        if child.process.returncode is None:
            child.process.send_signal(signal.SIGTERM)
    for child in children:
        try:
            await asyncio.wait_for(child.process.wait(), timeout=10)
        except TimeoutError:
            child.process.kill()
        if child.relay is not None:
            await asyncio.wait([child.relay], timeout=1.0)


def mindo_argv(*args: str) -> list[str]:
    """Runs a `mindo` sub-command with this interpreter, whatever PATH says."""
    return [sys.executable, "-m", "mindo_cli", *args]


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
