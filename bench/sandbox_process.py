"""The Meta sandbox in a child process of its own, as ``mindo dev`` runs it, for the benchmarks
that measure the engine: the engine and the sandbox then each get a core, instead of sharing one
event loop (and one CPU) and measuring each other.

``SandboxProcess.start("--mps", "80")`` runs ``python -m mindo_sandbox --port 0 ...`` and reads
the URL it prints; the admin API (``/_sandbox/...``) changes numbers and reads the record of
sends; ``cpu_seconds()`` is the child's CPU time so far (Linux ``/proc``; None elsewhere).

``BENCH_SANDBOX_GC=off`` runs the sandbox with Python's garbage collector off. Its record of
every request grows its heap, and a full collection then stops it for tens of milliseconds;
its throughput limit counts sends when it gets to them, so the requests that waited meanwhile
count as if they had arrived together, and a sender exactly at the limit gets a 130429 that
Meta, counting as requests arrive, would not answer. Off, the benchmarks measure the sender.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import aiohttp

_STARTUP_SECONDS = 30.0
_WITHOUT_GC = (
    "import gc, sys; gc.disable(); from mindo_sandbox.cli import main; sys.exit(main(sys.argv[1:]))"
)
_LISTENING = "Meta sandbox listening on "


@dataclass
class SendRecord:
    """One ``POST .../messages`` the sandbox answered."""

    at: float  # Unix seconds, when the sandbox answered
    wamid: str | None
    error_code: int | None


@dataclass
class SandboxProcess:
    process: subprocess.Popen[str]
    url: str

    @classmethod
    def start(cls, *args: str) -> SandboxProcess:
        program = ["-m", "mindo_sandbox"]
        if os.environ.get("BENCH_SANDBOX_GC", "on") == "off":
            program = ["-c", _WITHOUT_GC]
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
        try:
            with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # After the name: state is field 3, utime and stime are fields 14 and 15.
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

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
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
