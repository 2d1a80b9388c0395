"""The quota's two readings in SQL, on a connection the caller's transaction holds: the
organisation's rolling window and the recipients its running bulks still owe. ``SqlBulks``
reads them each in a short transaction of its own; ``SqlQuotaLedger`` reads them inside its
decision, under the organisation's lock.

The window counts single messages Meta accepted (at ``sent_at``) and bulk recipients sent
(``sent_at``) or perhaps sent (in flight or unconfirmed: at their claim).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, KeysView, Mapping, Sequence
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
    return _FirstTimes((await connection.execute(query, parameters)).all())


class _FirstTimes(Mapping[str, datetime]):
    """The window, its times kept as the query's UTC text and parsed only when asked for: a
    quota decision on a window with room left asks only who is in it and how many
    (``decide_batch``), and reading every row's time was most of a batch's cost."""

    def __init__(self, rows: Iterable[Sequence[str]]) -> None:
        self._raw: dict[str, str] = {}
        for phone, at in rows:
            wa_id = phone.removeprefix("+")
            known = self._raw.setdefault(wa_id, at)
            # Rare (a recipient sent to twice in a day): the first time is the one kept.
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
# messages today has 100,000 rows here. Plain SQL, its times read as text in UTC and parsed
# only when asked for (``_FirstTimes``): through the ORM and the column type, each row cost
# ~8 µs, and PostgreSQL's driver loading each as a datetime (converted to the session's time
# zone) was still most of a row's cost. Each number's first time is kept in Python: a GROUP BY
# sorted the rows first (0.2 s for 100,000 on SQLite), and a recipient is rarely messaged twice
# in a day.
_WINDOW_ROWS = """
    SELECT recipient_phone, {sent_at} FROM messages
    WHERE organisation_id = :organisation_id AND sent_at IS NOT NULL AND sent_at > :since
    UNION ALL
    -- Perhaps sent: Meta may count them, so the window does too (from their claim).
    SELECT recipient_phone, {claimed_at} FROM messages
    WHERE organisation_id = :organisation_id AND {maybe_sent}
      AND sent_at IS NULL AND claimed_at > :since
"""
# A timestamp as naive UTC text, "YYYY-MM-DD HH:MM:SS.ffffff": SQLite stores it so.
_UTC_TEXT = {
    "sqlite": "{column}",
    "postgresql": "to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
}
_RECIPIENT_WINDOW = {
    dialect: sa.text(
        _WINDOW_ROWS.format(
            sent_at=text.format(column="sent_at"),
            claimed_at=text.format(column="claimed_at"),
            maybe_sent=MAYBE_SENT_CONDITION,
        )
    ).bindparams(sa.bindparam("since", type_=UTCDateTime()))
    for dialect, text in _UTC_TEXT.items()
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
