"""The quota's two readings in SQL, on a connection the caller's transaction holds: the
organisation's rolling window and the recipients its running bulks still owe. ``SqlBulks``
reads them each in a short transaction of its own; ``SqlQuotaLedger`` reads them inside its
decision, under the organisation's lock.

The window counts single messages Meta accepted (at ``sent_at``) and bulk recipients sent
(``sent_at``) or perhaps sent (in flight or unconfirmed: at their claim).
"""

from __future__ import annotations

from collections.abc import Iterator, KeysView, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mindo_core.adapters.sql import mapping
from mindo_core.adapters.sql.tables import MAYBE_SENT_CONDITION
from mindo_core.adapters.sql.types import UTCDateTime
from mindo_core.domain.accounts import OrganisationId

__all__ = ["read_promised_recipients", "read_recipient_window"]


async def read_recipient_window(
    connection: AsyncConnection, organisation_id: OrganisationId, since: datetime
) -> Mapping[str, datetime]:
    """wa_id → first time it was sent to after ``since`` (``BulkStore.recipient_window``)."""
    parameters = {"organisation_id": organisation_id, "since": mapping.timestamp(since)}
    query = _RECIPIENT_WINDOW[connection.dialect.name]
    entries = (await connection.execute(query, parameters)).scalar_one()
    fields = entries.split(_SEPARATOR) if entries else []
    return _FirstTimes(fields[0::2], fields[1::2])


class _FirstTimes(Mapping[str, datetime]):
    """The window, its times kept as the query's UTC text and parsed only when asked for: a
    quota decision on a window with room left asks only who is in it and how many
    (``decide_batch``), and reading every row's time was most of a batch's cost."""

    def __init__(self, wa_ids: Sequence[str], times: Sequence[str]) -> None:
        self._raw = dict(zip(wa_ids, times, strict=True))
        if len(self._raw) < len(wa_ids):
            # Rare (a recipient sent to twice in a day): the first time is the one kept.
            self._raw = {}
            for wa_id, at in zip(wa_ids, times, strict=True):
                known = self._raw.setdefault(wa_id, at)
                if known is not at and _utc_time(at) < _utc_time(known):
                    self._raw[wa_id] = at

    def __getitem__(self, wa_id: str) -> datetime:
        return _utc_time(self._raw[wa_id])

    def __contains__(self, wa_id: object) -> bool:
        return wa_id in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def keys(self) -> KeysView[str]:
        return self._raw.keys()


async def read_promised_recipients(
    connection: AsyncConnection, organisation_id: OrganisationId
) -> AbstractSet[str]:
    """The wa_ids running bulks still have to send (``BulkStore.promised_recipients``)."""
    query = _PROMISED_RECIPIENTS[connection.dialect.name]
    rows = await connection.execute(query, {"organisation_id": organisation_id})
    return {phone.removeprefix("+") for (phone,) in rows}


# The portfolio's window, read for every bulk submitted: an organisation that sent 100,000
# messages today has 100,000 rows here. Plain SQL, read as one text: wa_id, time, wa_id, time…
# joined by the unit separator (0x1F), which neither an E.164 number nor a time holds. Row by
# row, the driver's and SQLAlchemy's row objects were most of the reading's cost (the service's
# CPU for 10,000 rows: 17-24 ms as rows, 8 ms as one text on SQLite; 17-18 ms, 4 ms on
# PostgreSQL). The times, UTC text, are parsed only when asked for (``_FirstTimes``). Each
# number's first time is kept in Python: a GROUP BY sorted the rows first (0.2 s for 100,000
# on SQLite), and a recipient is rarely messaged twice in a day.
_SEPARATOR = "\x1f"
_WINDOW_ENTRIES = """
    SELECT {wa_id} || {separator} || {sent_at} AS entry FROM messages
    WHERE organisation_id = :organisation_id AND sent_at IS NOT NULL AND sent_at > :since
    UNION ALL
    -- Perhaps sent: Meta may count them, so the window does too (from their claim).
    SELECT {wa_id} || {separator} || {claimed_at} FROM messages
    WHERE organisation_id = :organisation_id AND {maybe_sent}
      AND sent_at IS NULL AND claimed_at > :since
"""
_WA_ID = (
    "CASE WHEN substr(recipient_phone, 1, 1) = '+' THEN substr(recipient_phone, 2) "
    "ELSE recipient_phone END"
)
# Per dialect: the separator, a timestamp as naive UTC text ("YYYY-MM-DD HH:MM:SS.ffffff", as
# SQLite stores it), and the entries joined into one text.
_DIALECTS = {
    "sqlite": ("char(31)", "{column}", "SELECT group_concat(entry, char(31)) FROM ({entries})"),
    "postgresql": (
        "chr(31)",
        "to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        "SELECT string_agg(entry, chr(31)) FROM ({entries}) AS window_entries",
    ),
}
_RECIPIENT_WINDOW = {
    dialect: sa.text(
        joined.format(
            entries=_WINDOW_ENTRIES.format(
                wa_id=_WA_ID,
                separator=separator,
                sent_at=utc_text.format(column="sent_at"),
                claimed_at=utc_text.format(column="claimed_at"),
                maybe_sent=MAYBE_SENT_CONDITION,
            )
        )
    ).bindparams(sa.bindparam("since", type_=UTCDateTime()))
    for dialect, (separator, utc_text, joined) in _DIALECTS.items()
}


# What running bulks still have to send: their pending rows, and what is still staged (every
# staged recipient is pending: ``staged_recipients``), read inside the database.
_PENDING_ROWS = """
    SELECT m.recipient_phone FROM messages AS m JOIN bulks AS b ON b.id = m.bulk_id
    WHERE b.organisation_id = :organisation_id AND b.status IN ('QUEUED', 'PROCESSING')
      AND m.status = 'pending'
"""
_PROMISED_RECIPIENTS = {
    "sqlite": sa.text(f"""{_PENDING_ROWS}
    UNION ALL
    SELECT json_extract(r.value, '$[0]')
    FROM staged_recipients AS s JOIN bulks AS b ON b.id = s.bulk_id
    JOIN json_each(s.payload) AS r
    WHERE b.organisation_id = :organisation_id AND b.status IN ('QUEUED', 'PROCESSING')
    """),
    "postgresql": sa.text(f"""{_PENDING_ROWS}
    UNION ALL
    SELECT r.value ->> 0
    FROM staged_recipients AS s JOIN bulks AS b ON b.id = s.bulk_id
    CROSS JOIN LATERAL json_array_elements(s.payload::json) AS r(value)
    WHERE b.organisation_id = :organisation_id AND b.status IN ('QUEUED', 'PROCESSING')
    """),
}


def _utc_time(text: str) -> datetime:
    """A time of ``_RECIPIENT_WINDOW``'s, aware (what UTCDateTime gives). The offset appended,
    not ``replace(tzinfo=UTC)`` after: a fifth of the time."""
    return datetime.fromisoformat(text + "+00:00")
