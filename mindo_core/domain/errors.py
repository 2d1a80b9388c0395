"""Mindo's error tree. Every error has a stable ``code`` that clients can key on.

Each edge translates these exactly once, in one table: gRPC (``mindo_grpc.errors``) maps the
classes below to status codes, and the REST bridge maps gRPC statuses and codes to HTTP bodies.
Messages that the public documentation shows are reproduced verbatim (they are Spanish there);
errors the documentation does not show speak English.

An error never echoes an unbounded amount of its input: ``InvalidRequest`` keeps at most
``MAX_FIELD_ERRORS`` fields and a few problems each, cuts long names, problems and messages, and
says how much it left out. A request with 10,000 unknown variables is answered with its error,
in a few kilobytes, not with a response too big for the client to take.

    MindoError
    ├── InvalidRequest                  invalid_request         the input cannot be accepted
    │   ├── InvalidPhoneNumber          invalid_phone_number
    │   └── TemplateParameterError      template_parameters     (carries Meta's code, e.g. 132000)
    ├── NotFound
    │   ├── PhoneNumberNotFound         phone_number_not_found
    │   ├── TemplateNotFound            template_not_found
    │   ├── MessageNotFound             message_not_found
    │   ├── BulkNotFound                bulk_not_found
    │   └── OrganisationNotFound        organisation_not_found
    ├── Conflict                        conflict                the thing already exists
    │   ├── IdempotencyKeyReused        idempotency_key_reused  same key, another request
    │   └── IdempotencyKeyInFlight      idempotency_key_in_flight  its first request still runs
    ├── FailedPrecondition
    │   └── TemplateNotApproved         template_not_approved
    ├── Unauthenticated
    │   ├── ApiKeyMissing               api_key_missing
    │   └── ApiKeyExpired               api_key_expired         (also revoked or unknown keys)
    ├── PermissionDenied                api_key_forbidden
    ├── RateLimited                     rate_limited
    │   └── NumberAtCapacity            number_at_capacity      no send slot on the number soon
    ├── QuotaExceeded                   quota_exceeded          the 24 h unique-recipient limit
    ├── MetaError                       meta_error              Meta answered with an error
    ├── MetaUnavailable                 meta_unavailable        no answer, timeout, bare 5xx
    ├── OutcomeUnknown                  outcome_unknown         Meta may or may not have sent it
    ├── Unavailable                     unavailable             Mindo cannot do it now: retry
    └── DeadlineExceeded                deadline_exceeded       the caller's deadline passed
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Final

MAX_MESSAGE_CHARS: Final = 1_000
MAX_FIELD_ERRORS: Final = 100  # as many as a bulk reports invalid recipients
MAX_FIELD_NAME_CHARS: Final = 128
MAX_PROBLEMS_PER_FIELD: Final = 5
MAX_PROBLEM_CHARS: Final = 300


class MindoError(Exception):
    """Base of every error Mindo reports to a client."""

    code: ClassVar[str] = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(MindoError):
    """The input cannot be accepted; ``field_errors`` maps a field to what is wrong with it."""

    code = "invalid_request"

    def __init__(self, message: str, *, field_errors: Mapping[str, list[str]] | None = None):
        fields = dict(field_errors or {})
        left_out = len(fields) - MAX_FIELD_ERRORS
        note = f" ({left_out:,} more fields with problems)" if left_out > 0 else ""
        super().__init__(cut(message, MAX_MESSAGE_CHARS - len(note)) + note)
        self.field_errors: dict[str, list[str]] = _bounded(fields)

    @classmethod
    def for_field(cls, name: str, problem: str) -> InvalidRequest:
        return cls(f"{name}: {problem}", field_errors={name: [problem]})


def cut(text: str, limit: int) -> str:
    """``text`` if it fits ``limit`` characters, else its start and how much was cut."""
    if len(text) <= limit:
        return text
    kept = limit - 40
    return f"{text[:kept]}… ({len(text) - kept:,} more characters)"


def _bounded(field_errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    bounded: dict[str, list[str]] = {}
    for name, problems in list(field_errors.items())[:MAX_FIELD_ERRORS]:
        listed = [cut(p, MAX_PROBLEM_CHARS) for p in problems[:MAX_PROBLEMS_PER_FIELD]]
        if len(problems) > MAX_PROBLEMS_PER_FIELD:
            listed.append(f"and {len(problems) - MAX_PROBLEMS_PER_FIELD:,} more problems")
        bounded[cut(name, MAX_FIELD_NAME_CHARS)] = listed
    return bounded


class InvalidPhoneNumber(InvalidRequest):
    code = "invalid_phone_number"


class TemplateParameterError(InvalidRequest):
    """The variables do not fit the template; ``meta_code`` is what Meta would have answered."""

    code = "template_parameters"

    def __init__(
        self,
        message: str,
        *,
        meta_code: int,
        field_errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, field_errors=field_errors)
        self.meta_code = meta_code


class NotFound(MindoError):
    code = "not_found"


class PhoneNumberNotFound(NotFound):
    code = "phone_number_not_found"

    def __init__(self, phone_number_id: str) -> None:
        super().__init__(f"Numero de WhatsApp con ID '{phone_number_id}' no encontrado")


class TemplateNotFound(NotFound):
    code = "template_not_found"

    def __init__(self, name: str, language: str) -> None:
        super().__init__(
            f"Template '{name}' (language: {language}) no encontrado en este business account"
        )


class MessageNotFound(NotFound):
    code = "message_not_found"

    def __init__(self, message_id: str) -> None:
        super().__init__(f"Message '{message_id}' no encontrado")


class OrganisationNotFound(NotFound):
    code = "organisation_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"Organisation '{name}' not found")


class NotSuppressed(NotFound):
    """Removing from the suppression list a phone that is not on it."""

    code = "not_suppressed"

    def __init__(self) -> None:
        super().__init__("This phone is not on the organisation's suppression list")


class WebhookEndpointNotFound(NotFound):
    """No webhook endpoint with this id in the caller's organisation."""

    code = "webhook_endpoint_not_found"

    def __init__(self, endpoint_id: int) -> None:
        super().__init__(f"Webhook endpoint {endpoint_id} not found")


class Conflict(MindoError):
    code = "conflict"


class IdempotencyKeyReused(Conflict):
    """The organisation used this idempotency key in the last 24 hours for another request."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used in the last 24 hours with a different request: "
            "use a new key for a new request"
        )


class IdempotencyKeyInFlight(Conflict):
    """The first request with this key is still running in another process: ask again soon."""

    code = "idempotency_key_in_flight"

    def __init__(self, retry_after_seconds: float = 1.0) -> None:
        super().__init__(
            "The first request with this Idempotency-Key is still being processed; "
            "retry shortly to read its answer"
        )
        self.retry_after_seconds = retry_after_seconds


class FailedPrecondition(MindoError):
    code = "failed_precondition"


class BulkStillSending(FailedPrecondition):
    """A resend of a bulk's failed recipients was asked while the bulk can still send."""

    code = "bulk_still_sending"

    def __init__(self, bulk_id: str, status: str) -> None:
        super().__init__(
            f"Bulk send '{bulk_id}' is {status}; its failed recipients can be resent once it is "
            "COMPLETED, PARTIAL, FAILED or CANCELLED"
        )


class NothingToResend(FailedPrecondition):
    """No recipient of the bulk failed for a reason worth resending; ``left`` says why."""

    code = "nothing_to_resend"

    def __init__(self, bulk_id: str, left: Mapping[str, int]) -> None:
        why = ", ".join(f"{count} {reason}" for reason, count in left.items()) or "no recipient"
        super().__init__(f"Bulk send '{bulk_id}' has no recipient to resend ({why})")
        self.left = dict(left)


class RecipientOptedOut(FailedPrecondition):
    """The recipient asked the organisation to stop marketing messages (suppression list)."""

    code = "recipient_opted_out"

    def __init__(self) -> None:
        super().__init__(
            "The recipient opted out of this organisation's marketing messages; "
            "marketing templates are not sent to them"
        )


class TemplateNotApproved(FailedPrecondition):
    code = "template_not_approved"

    def __init__(self, name: str) -> None:
        super().__init__(f"Template '{name}' no tiene estado APPROVED")


class Unauthenticated(MindoError):
    code = "unauthenticated"


class ApiKeyMissing(Unauthenticated):
    code = "api_key_missing"

    def __init__(self) -> None:
        super().__init__("Este endpoint requiere autenticacion con API Key (header X-API-Key)")


class ApiKeyExpired(Unauthenticated):
    """Expired, revoked and unknown keys answer alike, so a guess learns nothing."""

    code = "api_key_expired"

    def __init__(self) -> None:
        super().__init__("API Key expirada")


class PermissionDenied(MindoError):
    code = "api_key_forbidden"

    def __init__(self) -> None:
        super().__init__("API Key no tiene acceso a este recurso")


class RateLimited(MindoError):
    code = "rate_limited"

    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__(f"Too many requests; retry after {retry_after_seconds:.0f} s")
        self.retry_after_seconds = retry_after_seconds


class NumberAtCapacity(RateLimited):
    """The phone number sends at its throughput limit and no slot frees within the bound a
    single send waits: refused before Meta (which would answer 130429). Nothing was sent."""

    code = "number_at_capacity"

    def __init__(self, *, retry_after_seconds: float, rate: float) -> None:
        retry_after_seconds = max(0.0, retry_after_seconds)
        MindoError.__init__(
            self,
            f"The phone number is sending at its throughput limit ({rate:g} messages/s) and "
            f"has no free slot soon; retry in {retry_after_seconds:.2f} s",
        )
        self.retry_after_seconds = retry_after_seconds


class QuotaExceeded(MindoError):
    """A new recipient does not fit the organisation's rolling 24 h limit of unique recipients
    now; ``frees_at`` is the earliest time one does. Nothing was sent."""

    code = "quota_exceeded"

    def __init__(self, *, frees_at: datetime, now: datetime) -> None:
        frees_at = frees_at.astimezone(UTC)
        super().__init__(
            "The organisation's 24-hour limit of unique recipients is reached: this recipient "
            f"was not messaged in the last 24 hours and fits at {_iso(frees_at)} at the earliest"
        )
        self.frees_at = frees_at
        self.retry_after_seconds = max(0.0, (frees_at - now).total_seconds())


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class MetaErrorDetail:
    """What Meta said, kept whole so that it can be recorded and shown."""

    meta_code: int
    title: str
    details: str = ""
    http_status: int = 0
    subcode: int | None = None
    fbtrace_id: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


class MetaError(MindoError):
    """Meta answered with its error envelope. ``retryable`` says whether trying again may work."""

    code = "meta_error"

    def __init__(self, detail: MetaErrorDetail, *, retryable: bool) -> None:
        super().__init__(f"(#{detail.meta_code}) {detail.title}".strip())
        self.detail = detail
        self.retryable = retryable

    @property
    def meta_code(self) -> int:
        return self.detail.meta_code


class MetaUnavailable(MindoError):
    """Meta could not be reached or gave no usable answer; always worth retrying."""

    code = "meta_unavailable"
    retryable = True

    def __init__(self, reason: str, *, maybe_sent: bool = False) -> None:
        super().__init__(f"Meta unavailable: {reason}")
        self.reason = reason
        # The request may have reached Meta (a timeout, a connection cut after sending): a
        # send may have happened. False when Meta answered, or the request never left.
        self.maybe_sent = maybe_sent


class OutcomeUnknown(MindoError):
    """A send's call to Meta ended with no answer (a timeout): Meta may have sent the message
    or not, and Mindo cannot tell. Its idempotency key answers this for 24 hours and the
    message is not sent again with it."""

    code = "outcome_unknown"

    def __init__(self, *, first_attempt_at: datetime) -> None:
        super().__init__(
            "The send with this Idempotency-Key got no answer from Meta (started at "
            f"{_iso(first_attempt_at.astimezone(UTC))}): it may or may not have been sent, and "
            "it will not be sent again with this key"
        )
        self.first_attempt_at = first_attempt_at


class BulkNotFound(NotFound):
    """Unknown, another organisation's, or not a bulk send id at all: answered alike."""

    code = "bulk_not_found"

    def __init__(self, bulk_id: str) -> None:
        super().__init__(f"Bulk send '{bulk_id}' no encontrado")


class Unavailable(MindoError):
    """Mindo could not do it now (its database refused, say); the same request may succeed."""

    code = "unavailable"


class DeadlineExceeded(MindoError):
    """The caller's deadline passed before Meta was called: nothing was sent."""

    code = "deadline_exceeded"

    def __init__(self) -> None:
        super().__init__("The request's deadline passed before Meta was called: nothing was sent")
