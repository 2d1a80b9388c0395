"""The Meta sandbox in a child process of its own, as ``mindo dev`` runs it, for the benchmarks
that measure the engine: the engine and the sandbox then each get a core, instead of sharing one
event loop (and one CPU) and measuring each other.

``SandboxProcess.start("--mps", "80")`` runs the sandbox (``--port 0 --mps 80``) and reads
the URL it prints; the admin API (``/_sandbox/...``) changes numbers and reads the record of
sends; ``cpu_seconds()`` is the child's CPU time so far (Linux ``/proc``; None elsewhere).

The child is ``python -m bench.sandbox_process ARGS``: the sandbox's own ``main`` with its
garbage collector's pauses timed (``gc.callbacks``); ``stop()`` reads them back as ``gc_pauses``
and ``pauses_summary`` tells those of a period (the sending, not start-up or the final listing).
A full collection stops the sandbox for as long as its heap is big, and every request queued
meanwhile reaches its throughput limit late: the figure tells a benchmark whether the sandbox
was ever paused for long enough to matter. ``BENCH_SANDBOX_GC=off`` runs it with the collector
off, to compare.
"""

from __future__ import annotations

import gc
import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.process_cpu import cpu_seconds

_STARTUP_SECONDS = 30.0
_LISTENING = "Meta sandbox listening on "
_GC_PAUSES = "sandbox gc pauses: "


@dataclass
class SendRecord:
    """One ``POST .../messages`` the sandbox answered."""

    at: float  # Unix seconds, when the sandbox answered
    wamid: str | None
    error_code: int | None


@dataclass(frozen=True)
class GcPause:
    """One garbage collection in the sandbox: when it ended, its generation, how long."""

    at: float  # Unix seconds
    generation: int
    ms: float


def pauses_summary(pauses: list[GcPause], first: float, last: float) -> str:
    """The collections between ``first`` and ``last`` (Unix seconds): full ones, the rest, and
    how many stopped the sandbox for more than 10 ms."""
    within = [p for p in pauses if first <= p.at <= last]
    full = [p.ms for p in within if p.generation == 2]
    young = [p.ms for p in within if p.generation < 2]
    over = sum(1 for p in within if p.ms > 10)
    return (
        f"{len(full)} full (longest {max(full, default=0):.0f} ms), {len(young)} young"
        f" (longest {max(young, default=0):.1f} ms), {over} over 10 ms"
    )


@dataclass
class SandboxProcess:
    process: subprocess.Popen[str]
    url: str
    gc_pauses: list[GcPause] | None = None  # known after stop()

    @classmethod
    def start(cls, *args: str) -> SandboxProcess:
        program = ["-m", "bench.sandbox_process"]
        command = [sys.executable, *program, "--port", "0", "--log-level", "WARNING", *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], _STARTUP_SECONDS)
        line = process.stdout.readline() if ready else ""
        if not line.startswith(_LISTENING):
            process.kill()
            process.wait()
            raise RuntimeError(f"the sandbox did not start (it said {line!r})")
        return cls(process=process, url=line.removeprefix(_LISTENING).strip())

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the sandbox process so far."""
        return cpu_seconds(self.process.pid)

    async def patch_number(self, phone_number_id: str, changes: dict[str, Any]) -> None:
        url = f"{self.url}/_sandbox/phone_numbers/{phone_number_id}"
        async with aiohttp.ClientSession() as session, session.patch(url, json=changes) as answer:
            answer.raise_for_status()

    async def sends(self) -> list[SendRecord]:
        url = f"{self.url}/_sandbox/requests"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            response.raise_for_status()
            records = (await response.json())["data"]
        return [
            SendRecord(at=r["at"], wamid=r["wamid"], error_code=r["error_code"])
            for r in records
            if r["method"] == "POST" and r["path"].endswith("/messages")
        ]

    def stop(self) -> None:
        self.process.terminate()
        # Read while it ends: its last line (every collection of a long run) may be more than
        # a pipe holds, and a process blocked writing it would never end by itself.
        try:
            output, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        if output is not None:
            self.gc_pauses = _read_gc_pauses(output)


def _read_gc_pauses(output: str) -> list[GcPause] | None:
    for line in output.splitlines():
        if line.startswith(_GC_PAUSES):
            return [GcPause(*p) for p in json.loads(line.removeprefix(_GC_PAUSES))]
    return None


class _PauseTimer:
    """``gc.callbacks`` hook: how long each collection stopped the process."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause_ms = (time.perf_counter() - self._started) * 1000
        self.pauses.append((time.time(), info["generation"], round(pause_ms, 3)))

    def report(self) -> str:
        return _GC_PAUSES + json.dumps(self.pauses)


def _serve_timed(argv: list[str]) -> int:
    from mindo_sandbox.cli import main

    if os.environ.get("BENCH_SANDBOX_GC", "on") == "off":
        gc.disable()
    timer = _PauseTimer()
    gc.callbacks.append(timer)
    code = main(argv)
    print(timer.report(), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(_serve_timed(sys.argv[1:]))
