"""DRF's ``PageNumberPagination``: the ``page`` and ``page_size`` parameters, and the body
``{"count", "next", "previous", "results"}``.

As DRF does it:

- ``page_size`` defaults to 20; a value that is not a positive integer is ignored (the default
  applies), one above ``MAX_PAGE_SIZE`` (100, not documented by Mindo) is lowered to it;
- ``page`` defaults to 1; one that is not a positive integer, or past the last page, is a 404
  ``"Invalid page."`` (page 1 is always valid, empty or not). ``page=last`` is not supported;
- ``next`` and ``previous`` are absolute URLs built from the request: the same query, sorted,
  with ``page`` replaced (removed for the first page), or null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib import parse

from aiohttp import web

from rest_bridge.problems import ApiError, coded
from rest_bridge.query import Query, last

DEFAULT_PAGE_SIZE: Final = 20
MAX_PAGE_SIZE: Final = 100
PAGE = "page"
PAGE_SIZE = "page_size"
INVALID_PAGE = "Invalid page."
# The page travels as a protobuf int32.
_MAX_PAGE = 2**31 - 1


@dataclass(frozen=True, kw_only=True)
class PageRequest:
    page: int
    page_size: int


def invalid_page() -> ApiError:
    return coded(404, INVALID_PAGE, "invalid_page")


def page_request(query: Query) -> PageRequest:
    """The page asked for; ``ApiError`` 404 for a page that cannot exist."""
    page = _positive(last(query, PAGE) or "1")
    if page is None or page > _MAX_PAGE:
        raise invalid_page()
    size = _positive(last(query, PAGE_SIZE) or "")
    page_size = DEFAULT_PAGE_SIZE if size is None else min(size, MAX_PAGE_SIZE)
    return PageRequest(page=page, page_size=page_size)


def _positive(text: str) -> int | None:
    try:
        number = int(text)
    except ValueError:
        return None
    return number if number > 0 else None


def page_body(
    request: web.Request, asked: PageRequest, count: int, results: list[dict[str, object]]
) -> dict[str, object]:
    """The paginated answer; ``ApiError`` 404 when the page is past the last one."""
    if not results and asked.page > 1:
        raise invalid_page()
    url = str(request.url)
    has_next = asked.page * asked.page_size < count
    return {
        "count": count,
        "next": _with_page(url, asked.page + 1) if has_next else None,
        "previous": _previous(url, asked.page),
        "results": results,
    }


def _previous(url: str, page: int) -> str | None:
    if page <= 1:
        return None
    return _with_page(url, None if page == 2 else page - 1)


def _with_page(url: str, page: int | None) -> str:
    """DRF's replace_query_param (a page) or remove_query_param (None), to the letter: the
    parameters come back sorted."""
    scheme, netloc, path, query, fragment = parse.urlsplit(url)
    params = parse.parse_qs(query, keep_blank_values=True)
    params.pop(PAGE, None)
    if page is not None:
        params[PAGE] = [str(page)]
    encoded = parse.urlencode(sorted(params.items()), doseq=True)
    return parse.urlunsplit((scheme, netloc, path, encoded, fragment))


def parameters() -> list[dict[str, object]]:
    """The OpenAPI parameter objects for ``page`` and ``page_size``."""
    return [
        {
            "name": PAGE,
            "in": "query",
            "required": False,
            "description": 'Page number, from 1. Past the last page: 404 "Invalid page.".',
            "schema": {"type": "integer", "minimum": 1, "default": 1},
        },
        {
            "name": PAGE_SIZE,
            "in": "query",
            "required": False,
            "description": (
                f"Results per page. Default {DEFAULT_PAGE_SIZE}; at most {MAX_PAGE_SIZE} "
                "(larger values are lowered to it, invalid ones ignored)."
            ),
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE_SIZE,
                "default": DEFAULT_PAGE_SIZE,
            },
        },
    ]
