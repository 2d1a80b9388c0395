"""The `mindo` command: run the servers, and operate tenants, keys and accounts."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from contextlib import AsyncExitStack
from secrets import token_hex
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from mindo_cli import event_loop
from mindo_cli.admin import register as register_admin_commands
from mindo_cli.bulk_commands import register as register_bulk_commands
from mindo_cli.errors import ErrorBoundary
from mindo_cli.heap import settle_start_up_heap
from mindo_cli.lifecycle import wait_for_stop_signal
from mindo_cli.log_format import configure_logging
from mindo_cli.operate import operator_settings
from mindo_cli.secret_file import DATA_DIR, ensure_secret_key
from mindo_cli.supervisor import ChildSpec, child_env, mindo_argv, run_children
from mindo_core.adapters.crypto import generate_secret
from mindo_core.settings import Settings, split_address

if TYPE_CHECKING:
    from mindo_grpc.metrics import ServiceMetrics

app = typer.Typer(
    help="Mindo: send WhatsApp Business template messages through Meta's Cloud API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ErrorBoundary,
)
console = Console()
# In `mindo dev` the sandbox reports every message delivered and 60% of them read, as status
# webhooks signed for the bridge's /webhooks/meta (shares and more: `mindo sandbox --help`).
DEMO_WEBHOOK_SHARES = "1.0,0.6"


def _settings() -> Settings:
    return Settings.from_env(os.environ)


def _logging(settings: Settings) -> None:
    configure_logging(level=settings.log_level, log_format=settings.log_format)


@app.command()
def serve(
    demo: Annotated[
        bool, typer.Option(help="Seed the demo tenant against the sandbox before serving.")
    ] = False,
    engine: Annotated[
        bool,
        typer.Option(
            "--engine/--no-engine",
            help="Run the bulk engine in this process too; --no-engine: the API alone "
            "(bulks are sent by a `mindo worker`).",
        ),
    ] = True,
) -> None:
    """Run the gRPC service (MINDO_GRPC_ADDRESS) and, unless --no-engine, the bulk engine over
    MINDO_DATABASE_URL."""
    settings = operator_settings()
    _logging(settings)
    event_loop.run(_serve(settings, demo=demo, engine=engine), event_loop=settings.event_loop)


async def _serve(settings: Settings, *, demo: bool, engine: bool) -> None:
    from mindo_cli.demo import seed_demo
    from mindo_core.bootstrap import open_services, running_engine
    from mindo_grpc.metrics import start_metrics_server
    from mindo_grpc.server import start_grpc_server

    metrics = _service_metrics(settings)
    async with (
        open_services(settings, telemetry=metrics, callback_telemetry=metrics) as services,
        AsyncExitStack() as running_parts,
    ):
        # Before anything says it is up (the demo's banner, the engine, the port): whoever
        # reads that may call or signal it at once.
        settle_start_up_heap()
        if demo:
            seeded = await seed_demo(services, pinned_key=settings.demo_api_key)
            _print_demo_banner(settings, seeded.api_key, seeded.phone_number_ids)
        if engine:
            await running_parts.enter_async_context(running_engine(settings, services))
        # Webhook statuses arrive through this process' API, so it applies those it parked.
        services.status_writer.start()
        interceptors = () if metrics is None else (metrics.interceptor(),)
        running = await start_grpc_server(
            services, settings.grpc_address, interceptors=interceptors
        )
        scraped = None
        if metrics is not None and settings.metrics_address:
            scraped = await start_metrics_server(
                metrics,
                settings.metrics_address,
                pending_recipients=services.bulk_backlog.pending_recipients,
                callback_backlog=services.callback_delivery.backlog,
            )
            logging.getLogger(__name__).info("Metrics at %s/metrics", scraped.url)
        await wait_for_stop_signal()
        # Draining: health says NOT_SERVING while the engine hands its numbers over (claimed
        # but unsent released, sends in flight finished, leases released), then the API stops.
        await running.health.enter_graceful_shutdown()
        await running_parts.aclose()
        await running.stop()
        if scraped is not None:
            await scraped.stop()


def _service_metrics(settings: Settings) -> ServiceMetrics | None:
    """The service's metrics over a registry of their own, when MINDO_METRICS_ADDRESS asks."""
    from prometheus_client import CollectorRegistry

    from mindo_grpc.metrics import ServiceMetrics

    return ServiceMetrics(CollectorRegistry()) if settings.metrics_address else None


@app.command()
def worker() -> None:
    """Run the bulk engine alone over MINDO_DATABASE_URL; the API runs elsewhere (`mindo serve
    --no-engine`). Its only port is MINDO_METRICS_ADDRESS's, when set: /metrics and /healthz.

    SIGTERM or Ctrl-C drains it (/healthz answers 503 meanwhile): no new claims, what it
    claimed but did not send goes back, sends in flight finish (MINDO_STOP_GRACE_S), and its
    numbers are handed over at once."""
    settings = operator_settings()
    _logging(settings)
    event_loop.run(_work(settings), event_loop=settings.event_loop)


async def _work(settings: Settings) -> None:
    from mindo_core.bootstrap import open_services, running_engine
    from mindo_grpc.metrics import start_metrics_server

    metrics = _service_metrics(settings)
    async with (
        open_services(settings, telemetry=metrics, callback_telemetry=metrics) as services,
        AsyncExitStack() as running_parts,
    ):
        settle_start_up_heap()  # before the engine says it started, as in _serve
        await running_parts.enter_async_context(running_engine(settings, services))
        scraped = None
        if metrics is not None and settings.metrics_address:
            scraped = await start_metrics_server(
                metrics,
                settings.metrics_address,
                pending_recipients=services.bulk_backlog.pending_recipients,
                callback_backlog=services.callback_delivery.backlog,
            )
            logging.getLogger(__name__).info("Metrics and health at %s", scraped.url)
        await wait_for_stop_signal()
        if scraped is not None:
            scraped.drain()  # /healthz: NOT_SERVING while the engine hands its numbers over
        await running_parts.aclose()
        if scraped is not None:
            await scraped.stop()


def _print_demo_banner(settings: Settings, key: str, numbers: tuple[str, ...]) -> None:
    console.print(
        "\n[bold green]Mindo is ready[/bold green] (demo tenant, Meta sandbox, SQLite)\n"
        f"  REST   http://{settings.http_address}  (OpenAPI: /api/v1/openapi.json)\n"
        f"  gRPC   {settings.grpc_address}  (reflection on)\n"
        f"  phone_number_id  {', '.join(numbers)}\n"
        f"  X-API-Key        [bold]{key}[/bold]\n"
        "  Try: curl -X POST http://"
        f"{settings.http_address}/api/v1/meta-templates/send/ -H 'X-API-Key: {key}' "
        '-H \'Content-Type: application/json\' -d \'{"phone_number_id": "813497231850626", '
        '"template_name": "welcome_message", "recipient_phone": "+5491112345678", '
        '"variables": {"name": "Juan Perez"}}\'\n',
        soft_wrap=True,
    )
    sys.stdout.flush()


@app.command()
def bridge() -> None:
    """Run the REST bridge (MINDO_HTTP_ADDRESS), forwarding to the gRPC service."""
    from rest_bridge.app import start_bridge

    settings = _settings()
    _logging(settings)
    host, port = split_address(settings.http_address)

    async def work() -> None:
        settle_start_up_heap()
        running = await start_bridge(settings.grpc_address, host, port)
        await wait_for_stop_signal()
        await running.stop()

    event_loop.run(work(), event_loop=settings.event_loop)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sandbox(ctx: typer.Context) -> None:
    """Run the Meta Graph API sandbox. Options: see `mindo sandbox --help-sandbox`."""
    from mindo_sandbox.cli import main as sandbox_main

    args = [("--help" if a == "--help-sandbox" else a) for a in ctx.args]
    raise typer.Exit(sandbox_main(args))


@app.command()
def dev() -> None:
    """Start everything with embedded defaults: sandbox, gRPC service, REST bridge, demo tenant.

    SQLite in .mindo/, a secret key generated once in .mindo/secret.key, the demo key printed
    at start (pin it with MINDO_DEMO_API_KEY). Ctrl-C stops everything."""
    settings = _settings()
    sandbox_url = f"http://{settings.sandbox_address}"
    host, port = split_address(settings.sandbox_address)
    env = child_env(
        {
            "MINDO_META_BASE_URL": os.environ.get("MINDO_META_BASE_URL", sandbox_url),
            "MINDO_SECRET_KEY": settings.secret_key or ensure_secret_key(DATA_DIR),
            "MINDO_DATABASE_URL": settings.database_url,
            # The sandbox signs its webhooks with the secret the service checks them with;
            # without one set, a random one per start (children get it by environment).
            "MINDO_META_APP_SECRET": settings.meta_app_secret or token_hex(32),
            "MINDO_META_VERIFY_TOKEN": os.environ.get("MINDO_META_VERIFY_TOKEN", "")
            or token_hex(16),
        }
    )
    webhook_url = f"http://{settings.http_address}/webhooks/meta"
    specs = [
        ChildSpec(
            "sandbox",
            mindo_argv(
                "sandbox",
                "--host",
                host,
                "--port",
                str(port),
                "--webhook-url",
                webhook_url,
                "--webhook-shares",
                DEMO_WEBHOOK_SHARES,
            ),
            settings.sandbox_address,
        ),
        ChildSpec("gRPC service", mindo_argv("serve", "--demo"), settings.grpc_address),
        ChildSpec("REST bridge", mindo_argv("bridge"), settings.http_address),
    ]
    raise typer.Exit(asyncio.run(run_children(specs, env)))


@app.command("secret-key")
def secret_key() -> None:
    """Print a new random value for MINDO_SECRET_KEY."""
    console.print(generate_secret())


register_admin_commands(app)
register_bulk_commands(app)

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate MINDO_DATABASE_URL to the newest schema (the service also does it at start)."""
    from mindo_core.adapters.sql import upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url)
    console.print(f"Database at {settings.database_url} is up to date.")
