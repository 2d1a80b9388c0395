"""How the operator commands show things: tables, times, shell-quoted values, template counts
and messaging tiers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime

from rich import box
from rich.markup import escape
from rich.table import Table

from mindo_core.domain.templates import StoredTemplate
from mindo_core.domain.tiers import UnknownTier, parse_tier


def table(title: str, *columns: str, whole: Collection[str] = ()) -> Table:
    """Light borders, and cells folded rather than cut: a narrow or piped terminal still gets
    every character. The ``whole`` columns (ids) are never broken; the others wrap first."""
    shown = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in columns:
        shown.add_column(column, overflow="fold", no_wrap=column in whole)
    return shown


def when(moment: datetime | None, missing: str, *, zone: str = " UTC") -> str:
    return missing if moment is None else f"{moment:%Y-%m-%d %H:%M}{zone}"


def quoted(value: str) -> str:
    """A value as it would be typed in a shell."""
    if value and all(c.isalnum() or c in "-_.@" for c in value):
        return escape(value)
    return escape("'" + value.replace("'", "'\\''") + "'")


def template_counts(templates: Sequence[StoredTemplate]) -> str:
    by_status = Counter(t.status.upper() for t in templates)
    detail = ", ".join(f"{count} {status.lower()}" for status, count in sorted(by_status.items()))
    return f"{len(templates)}" + (f" ({detail})" if detail else "")


def tier(value: str) -> str:
    """A messaging tier as the API spells it (TIER_2000, not Meta's TIER_2K)."""
    try:
        return parse_tier(value).name
    except UnknownTier:
        return value
