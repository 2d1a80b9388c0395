"""The two secrets Meta's webhooks are checked with, read from the environment in one place.

- ``MINDO_META_VERIFY_TOKEN``: the token typed into Meta's webhook settings; Meta echoes it in
  the verification handshake (GET), and only then does the bridge answer the challenge.
- ``MINDO_META_APP_SECRET``: the app secret; every POST is signed with it
  (``X-Hub-Signature-256``). The gRPC service reads the same variable and checks again.

An unset secret disables its half: no handshake succeeds, every POST is refused. Neither value
ever reaches a log or a ``repr``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

VERIFY_TOKEN_VARIABLE = "MINDO_META_VERIFY_TOKEN"
APP_SECRET_VARIABLE = "MINDO_META_APP_SECRET"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class WebhookSecrets:
    verify_token: str = field(default="", repr=False)
    app_secret: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WebhookSecrets:
        return cls(
            # Taken as they are (no trimming): the service reads the same variables, and a
            # secret that differs by a space would sign differently there.
            verify_token=environ.get(VERIFY_TOKEN_VARIABLE, ""),
            app_secret=environ.get(APP_SECRET_VARIABLE, ""),
        )

    def warn_when_missing(self) -> None:
        """Says which half is disabled; only names the variables, never their values."""
        if not self.verify_token:
            logger.warning("%s is not set: Meta's handshake will fail", VERIFY_TOKEN_VARIABLE)
        if not self.app_secret:
            logger.warning("%s is not set: webhook POSTs will be refused", APP_SECRET_VARIABLE)


WEBHOOK_SECRETS = web.AppKey("webhook_secrets", WebhookSecrets)


def webhook_secrets(request: web.Request) -> WebhookSecrets:
    return request.app[WEBHOOK_SECRETS]
