"""Graph's cursor paging: ``limit``, ``after``/``before`` cursors, absolute ``next``/``previous``.

A cursor is the base64 of an item's id, so pages stay stable when items are added elsewhere.
The last page has no ``next``; an empty result is ``{"data": []}``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from yarl import URL

from mindo_sandbox.graph_errors import GraphError

Item = Mapping[str, Any]


def graph_page(
    items: Sequence[Item], *, url: URL, default_limit: int, max_limit: int
) -> dict[str, Any]:
    query = url.query
    limit = min(_limit(query.get("limit"), default_limit), max_limit)
    start, end = _window(items, query, limit)
    page = list(items[start:end])
    if not page:
        return {"data": []}
    cursors = {"before": encode_cursor(page[0]), "after": encode_cursor(page[-1])}
    paging: dict[str, Any] = {"cursors": cursors}
    if start > 0:
        paging["previous"] = str(_with_cursor(url, "before", cursors["before"]))
    if end < len(items):
        paging["next"] = str(_with_cursor(url, "after", cursors["after"]))
    return {"data": page, "paging": paging}


def _window(items: Sequence[Item], query: Mapping[str, str], limit: int) -> tuple[int, int]:
    if "after" in query:
        start = _position(items, query["after"]) + 1
        return start, min(start + limit, len(items))
    if "before" in query:
        end = _position(items, query["before"])
        return max(0, end - limit), end
    return 0, min(limit, len(items))


def _limit(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise GraphError(100, "Param limit must be a positive integer.")
    return int(raw)


def encode_cursor(item: Item) -> str:
    return base64.urlsafe_b64encode(str(item["id"]).encode()).decode("ascii")


def _position(items: Sequence[Item], cursor: str) -> int:
    try:
        item_id = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError) as exc:
        raise GraphError(100, f"Invalid cursor '{cursor}'.") from exc
    for position, item in enumerate(items):
        if str(item["id"]) == item_id:
            return position
    raise GraphError(100, f"Invalid cursor '{cursor}'.")


def _with_cursor(url: URL, name: str, cursor: str) -> URL:
    other = "before" if name == "after" else "after"
    return url.without_query_params(other).update_query({name: cursor})
