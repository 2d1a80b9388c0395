"""A protocol-faithful simulator of Meta's WhatsApp Cloud API (the Graph API Mindo calls).

It imports nothing of Mindo: it checks payloads on its own, as Meta would.

    sandbox = await start_sandbox(SandboxConfig.demo())
    ... POST {sandbox.url}/v21.0/813497231850626/messages ...
    sandbox.state.recorded()
    await sandbox.state.webhooks.drain()   # with a callback_url: every status webhook posted
    await sandbox.stop()
"""

from mindo_sandbox._json_reading import ConfigError
from mindo_sandbox.clock import Clock, FakeClock, SystemClock
from mindo_sandbox.config import (
    LimitsConfig,
    PhoneNumberConfig,
    SandboxConfig,
    TemplateConfig,
    WabaConfig,
)
from mindo_sandbox.faults import FaultConfig, RecipientFault
from mindo_sandbox.recording import RecordedRequest
from mindo_sandbox.server import RunningSandbox, build_app, start_sandbox
from mindo_sandbox.state import AcceptedMessage, SandboxState
from mindo_sandbox.webhook_config import StatusDelays, StatusShares, WebhookConfig
from mindo_sandbox.webhook_log import SentWebhook
from mindo_sandbox.webhook_payloads import SIGNATURE_HEADER, signature
from mindo_sandbox.webhook_sender import WebhookSender

Sandbox = SandboxState

__all__ = [
    "SIGNATURE_HEADER",
    "AcceptedMessage",
    "Clock",
    "ConfigError",
    "FakeClock",
    "FaultConfig",
    "LimitsConfig",
    "PhoneNumberConfig",
    "RecipientFault",
    "RecordedRequest",
    "RunningSandbox",
    "Sandbox",
    "SandboxConfig",
    "SandboxState",
    "SentWebhook",
    "StatusDelays",
    "StatusShares",
    "SystemClock",
    "TemplateConfig",
    "WabaConfig",
    "WebhookConfig",
    "WebhookSender",
    "build_app",
    "signature",
    "start_sandbox",
]
