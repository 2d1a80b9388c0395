"""`mindo dev`'s supervisor: when a child dies, it says which, how, and the child's last words."""

from __future__ import annotations

import signal
import socket
import sys

import pytest

from mindo_cli.supervisor import ChildSpec, child_env, run_children


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def listening_then(address: str, ending: str) -> list[str]:
    """A child that accepts connections at ``address``, complains, then does ``ending``."""
    port = address.rsplit(":", 1)[1]
    script = (
        "import os, signal, socket, sys, time\n"
        f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen()\n"
        "time.sleep(0.5)\n"
        "print('starting up', file=sys.stderr)\n"
        "print('database is locked', file=sys.stderr, flush=True)\n"
        f"{ending}\n"
    )
    return [sys.executable, "-c", script]


async def test_a_child_that_exits_is_named_with_its_code_and_last_lines(
    capfd: pytest.CaptureFixture[str],
) -> None:
    first, second = free_address(), free_address()
    specs = [
        ChildSpec("sandbox", listening_then(first, "time.sleep(30)"), first),
        ChildSpec("gRPC service", listening_then(second, "sys.exit(3)"), second),
    ]

    code = await run_children(specs, child_env({}))

    err = capfd.readouterr().err
    assert code == 1
    assert "mindo dev: the gRPC service stopped: it exited with code 3" in err
    assert "its last lines of stderr:\n  | starting up\n  | database is locked" in err
    assert "mindo dev: stopping the others." in err


async def test_a_child_killed_by_a_signal_is_named_with_the_signal(
    capfd: pytest.CaptureFixture[str],
) -> None:
    address = free_address()
    ending = "os.kill(os.getpid(), signal.SIGKILL)"
    specs = [ChildSpec("REST bridge", listening_then(address, ending), address)]

    code = await run_children(specs, child_env({}))

    assert code == 1
    assert "mindo dev: the REST bridge stopped: it was killed by SIGKILL" in capfd.readouterr().err


async def test_a_child_that_dies_before_listening_says_so(
    capfd: pytest.CaptureFixture[str],
) -> None:
    script = "import sys; print('MINDO_SECRET_KEY is too short', file=sys.stderr); sys.exit(2)"
    specs = [ChildSpec("sandbox", [sys.executable, "-c", script], free_address())]

    code = await run_children(specs, child_env({}))

    err = capfd.readouterr().err
    assert code == 1
    assert "mindo dev: the sandbox did not start: it exited with code 2" in err
    assert "  | MINDO_SECRET_KEY is too short" in err


async def test_each_child_runs_in_a_process_group_of_its_own(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """So that Ctrl-C reaches the supervisor alone, and each child gets one SIGTERM from it: a
    second signal while a child closes its event loop is what wrote to a closed wakeup fd."""
    address = free_address()
    ending = "print('own group:', os.getpgid(0) == os.getpid(), file=sys.stderr); sys.exit(1)"
    specs = [ChildSpec("sandbox", listening_then(address, ending), address)]

    await run_children(specs, child_env({}))

    assert "  | own group: True" in capfd.readouterr().err


async def test_the_signal_handlers_are_gone_before_the_loop_closes() -> None:
    address = free_address()
    specs = [ChildSpec("sandbox", listening_then(address, "sys.exit(1)"), address)]

    await run_children(specs, child_env({}))

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
