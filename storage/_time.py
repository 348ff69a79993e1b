"""How datetimes are stored: fixed-width ISO-8601 text in UTC, so text order is time order.

Every stored time has the form `2026-11-22T22:19:54.000000+00:00` (microseconds always
present), which round-trips exactly and compares correctly with `<` in SQL. Naive
datetimes are refused: a caller passing one has a bug, and guessing its zone could
open or close a window at the wrong time.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["from_iso", "maybe_from_iso", "maybe_to_iso", "to_iso"]


def to_iso(dt: datetime) -> str:
    """Render an aware datetime as fixed-width UTC ISO text."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: storage needs timezone-aware UTC times")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    """Parse stored ISO text back into an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def maybe_to_iso(dt: datetime | None) -> str | None:
    """`to_iso`, passing None through."""
    return None if dt is None else to_iso(dt)


def maybe_from_iso(text: str | None) -> datetime | None:
    """`from_iso`, passing None through."""
    return None if text is None else from_iso(text)
