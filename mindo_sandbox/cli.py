"""``python -m mindo_sandbox`` (and ``mindo sandbox``): serve the Meta sandbox until stopped."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mindo_sandbox._json_reading import ConfigError
from mindo_sandbox.config import LimitsConfig, SandboxConfig
from mindo_sandbox.event_loop import EVENT_LOOPS, default_event_loop, run
from mindo_sandbox.faults import SERVER_ERROR_KINDS, FaultConfig
from mindo_sandbox.server import start_sandbox
from mindo_sandbox.webhook_config import WebhookConfig

# The same variable the service checks signatures with: one secret for both ends in `mindo dev`.
APP_SECRET_ENV = "MINDO_META_APP_SECRET"

DEFAULT_PORT = 8089


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mindo sandbox",
        description="A local simulator of Meta's WhatsApp Cloud API (Graph API).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--config", metavar="FILE", help="JSON config (default: the demo account)")
    parser.add_argument("--mps", type=int, help="throughput of every number, messages/s")
    parser.add_argument("--pair-capacity", type=int, help="pair-rate burst (Meta: 45)")
    parser.add_argument("--pair-refill-seconds", type=float, help="pair-rate refill (Meta: 6)")
    parser.add_argument(
        "--unlimited",
        action="store_true",
        help="no throughput limit (130429) nor pair rate (131056): a client's own ceiling",
    )
    parser.add_argument("--latency-ms", metavar="MS|MIN-MAX", help="added latency per send")
    parser.add_argument("--error-rate", type=float, help="probability of a 5xx per send")
    parser.add_argument(
        "--error-kinds",
        metavar="KIND,...",
        help=f"5xx kinds to draw from: {','.join(SERVER_ERROR_KINDS)}",
    )
    parser.add_argument("--timeout-rate", type=float, help="probability of holding a send")
    parser.add_argument(
        "--timeout-ms", metavar="MS|never", help="how long a held send is held (default 30000)"
    )
    parser.add_argument(
        "--recipient-error",
        action="append",
        default=[],
        metavar="TO=CODE[,CODE...]",
        help="one code: always answered; several: answered in turn, then sends succeed",
    )
    parser.add_argument("--seed", type=int, help="seed of the random faults")
    webhooks = parser.add_argument_group("status webhooks (more knobs in the config file)")
    webhooks.add_argument("--webhook-url", metavar="URL", help="where to post webhooks")
    webhooks.add_argument(
        "--app-secret",
        help=f"key of the X-Hub-Signature-256 HMAC (default: ${APP_SECRET_ENV}, kept off argv)",
    )
    webhooks.add_argument(
        "--webhook-shares",
        metavar="DELIVERED,READ",
        help="shares of accepted messages delivered and read, e.g. 0.9,0.6",
    )
    webhooks.add_argument(
        "--webhook-failure",
        action="append",
        default=[],
        metavar="TO=CODE",
        help="the recipient's accepted messages fail later with CODE (e.g. 131026)",
    )
    webhooks.add_argument("--webhook-batch", type=int, metavar="N", help="statuses per POST")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        default=default_event_loop(),
        help="uvloop (when installed; the default unless MINDO_EVENT_LOOP=asyncio) or asyncio",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    config = SandboxConfig.load(args.config) if args.config else SandboxConfig.demo()
    if args.mps is not None:
        config = config.with_mps(_positive(args.mps, "--mps"))
    return replace(
        config,
        limits=_limits(config.limits, args),
        faults=_faults(config.faults, args),
        webhooks=_webhooks(config.webhooks, args),
    )


def _positive(value: int, flag: str) -> int:
    if value < 1:
        raise ConfigError(f"{flag} must be at least 1")
    return value


def _limits(limits: LimitsConfig, args: argparse.Namespace) -> LimitsConfig:
    data: dict[str, Any] = {}
    if args.pair_capacity is not None:
        data["pair_capacity"] = args.pair_capacity
    if args.pair_refill_seconds is not None:
        data["pair_refill_seconds"] = args.pair_refill_seconds
    if args.unlimited:
        data["unlimited"] = True
    return replace(limits, **vars(LimitsConfig.from_json(data))) if data else limits


def _faults(faults: FaultConfig, args: argparse.Namespace) -> FaultConfig:
    data = faults.to_json()
    if args.latency_ms is not None:
        data["latency_ms"] = _latency(args.latency_ms)
    if args.error_rate is not None:
        data["server_error_rate"] = args.error_rate
    if args.error_kinds is not None:
        data["server_errors"] = [k.strip() for k in args.error_kinds.split(",")]
    if args.timeout_rate is not None:
        data["timeout_rate"] = args.timeout_rate
    if args.timeout_ms is not None:
        data["timeout_hold_ms"] = None if args.timeout_ms == "never" else _number(args.timeout_ms)
    if args.seed is not None:
        data["seed"] = args.seed
    for item in args.recipient_error:
        to, codes = _recipient_error(item)
        data["recipient_errors"][to] = codes
    return FaultConfig.from_json(data)


def _webhooks(webhooks: WebhookConfig, args: argparse.Namespace) -> WebhookConfig:
    data = webhooks.to_json(mask_secret=False)
    if args.webhook_url is not None:
        data["callback_url"] = args.webhook_url
    # Untrimmed, as the service and the bridge read it: a secret differing by a space would
    # sign differently.
    app_secret = args.app_secret or os.environ.get(APP_SECRET_ENV, "")
    if app_secret:
        data["app_secret"] = app_secret
    if args.webhook_shares is not None:
        delivered, _, read = args.webhook_shares.partition(",")
        data["shares"] = {"delivered": _number(delivered), "read": _number(read or "0")}
    if args.webhook_batch is not None:
        data["batch_size"] = args.webhook_batch
    for item in args.webhook_failure:
        to, _, code = item.partition("=")
        if not code.isdigit():
            raise ConfigError(f"--webhook-failure {item}: expected TO=CODE")
        data["failures"][to] = int(code)
    return WebhookConfig.from_json(data)


def _latency(text: str) -> float | list[float]:
    low, _, high = text.partition("-")
    return [_number(low), _number(high)] if high else _number(low)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise ConfigError(f"'{text}' is not a number") from exc


def _recipient_error(item: str) -> tuple[str, int | list[int]]:
    to, _, codes_text = item.partition("=")
    try:
        codes = [int(c) for c in codes_text.split(",")]
    except ValueError as exc:
        raise ConfigError(f"--recipient-error {item}: expected TO=CODE[,CODE...]") from exc
    return to, codes[0] if len(codes) == 1 else codes


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        config = config_from_args(args)
    except (ConfigError, OSError) as error:
        print(f"mindo sandbox: {error}", file=sys.stderr)
        return 2
    try:
        serving = _serve(config, args.host, args.port, access_log=args.access_log)
        run(serving, event_loop=args.event_loop)
    except OSError as error:  # e.g. the port is taken
        print(f"mindo sandbox: {error}", file=sys.stderr)
        return 1
    return 0


async def _serve(config: SandboxConfig, host: str, port: int, *, access_log: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sandbox = await start_sandbox(config, host, port, access_log=access_log)
    _freeze_start_up_heap()
    print(f"Meta sandbox listening on {sandbox.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()


def _freeze_start_up_heap() -> None:
    """Takes what start-up built (modules, the config, the app: ~38,000 objects) out of the
    collector's sight, as this process's main alone may: it all lives until exit, and each full
    collection would otherwise walk it again, ~15 ms on a quiet machine and more on a busy one,
    during which the sends that arrive wait and then reach the throughput limit together."""
    gc.collect()
    gc.freeze()
