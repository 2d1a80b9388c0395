"""A ``MetaGateway`` that reports every send's outcome to ``SendTelemetry`` and otherwise
passes each call through unchanged; the composition root puts it in front of the real one
when the operator asks for metrics."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mindo_core.domain.errors import MetaError, MetaUnavailable
from mindo_core.ports.meta import MetaGateway, MetaSendResult, PhoneNumberInfo, TemplateInfo
from mindo_core.ports.telemetry import SendOutcome, SendTelemetry


@dataclass(frozen=True, kw_only=True)
class ObservedMetaGateway:
    inner: MetaGateway
    telemetry: SendTelemetry

    async def send_template(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        payload: Mapping[str, Any],
        max_seconds: float | None = None,
    ) -> MetaSendResult:
        started = time.perf_counter()
        outcome: SendOutcome = "unknown"
        meta_code: int | None = None
        try:
            result = await self.inner.send_template(
                phone_number_id=phone_number_id,
                access_token=access_token,
                payload=payload,
                max_seconds=max_seconds,
            )
            outcome = "accepted"
            return result
        except MetaError as error:
            outcome, meta_code = "refused", error.detail.meta_code
            raise
        except MetaUnavailable as error:
            outcome = "unknown" if error.maybe_sent else "unavailable"
            raise
        finally:
            self.telemetry.meta_send_finished(
                outcome=outcome, meta_code=meta_code, seconds=time.perf_counter() - started
            )

    async def list_phone_numbers(
        self, *, waba_id: str, access_token: str
    ) -> Sequence[PhoneNumberInfo]:
        return await self.inner.list_phone_numbers(waba_id=waba_id, access_token=access_token)

    async def list_templates(self, *, waba_id: str, access_token: str) -> Sequence[TemplateInfo]:
        return await self.inner.list_templates(waba_id=waba_id, access_token=access_token)

    async def close(self) -> None:
        await self.inner.close()
