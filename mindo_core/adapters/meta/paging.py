"""Which page comes next in a Graph listing, without ever sending the token anywhere else.

Graph pages answer ``{"data": [...], "paging": {"cursors": {"after": ...}, "next": URL}}``;
the last page has no ``next``. ``next`` is followed only when it points at the same scheme,
host and port as the base URL; otherwise the ``after`` cursor is applied to our own URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yarl import URL

from mindo_core.adapters.meta.errors import UnexpectedMetaResponse

__all__ = ["PageTrail", "same_origin"]

# Graph echoes the token in ``next`` when it was given in the query; ours travels in the header,
# and a URL may end up in an exception or a log line.
_TOKEN_PARAM = "access_token"


def same_origin(a: URL, b: URL) -> bool:
    return (a.scheme.lower(), (a.host or "").lower(), a.port) == (
        b.scheme.lower(),
        (b.host or "").lower(),
        b.port,
    )


class PageTrail:
    """The pages of one listing, walked in order. A page offered twice, or more than
    ``max_pages`` pages, is an error: a server that loops would otherwise be followed forever."""

    def __init__(self, *, first: URL, origin: URL, max_pages: int) -> None:
        self._first = first
        self._origin = origin
        self._max_pages = max_pages
        self._seen_urls: set[str] = {str(first)}
        self._seen_cursors: set[str] = set()

    def next_url(self, document: Mapping[str, Any]) -> URL | None:
        paging = document.get("paging")
        if not isinstance(paging, dict):
            return None
        link = paging.get("next")
        if not isinstance(link, str) or not link:
            return None
        if len(self._seen_urls) >= self._max_pages:
            raise UnexpectedMetaResponse(f"Graph paging: more than {self._max_pages} pages")
        url = self._choose(link, _after_cursor(paging))
        if str(url) in self._seen_urls:
            raise UnexpectedMetaResponse("Graph paging loop: the same page was offered twice")
        self._seen_urls.add(str(url))
        return url

    def _choose(self, link: str, after: str | None) -> URL:
        if after is not None:
            if after in self._seen_cursors:
                raise UnexpectedMetaResponse("Graph paging loop: the same cursor came back")
            self._seen_cursors.add(after)
        candidate = _parse(link)
        if candidate is not None and same_origin(candidate, self._origin):
            return candidate.without_query_params(_TOKEN_PARAM)
        if after is None:
            raise UnexpectedMetaResponse(
                "Graph paging: 'next' points away from the base URL and there is no 'after' cursor"
            )
        return self._first.update_query(after=after)


def _after_cursor(paging: Mapping[str, Any]) -> str | None:
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and after else None


def _parse(link: str) -> URL | None:
    try:
        url = URL(link, encoded=True)
    except ValueError:
        return None
    return url if url.is_absolute() else None
