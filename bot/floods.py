"""Floods cost a counter, not a row: rejected unauthenticated HTTP requests, per source and minute.

The Telegram webhook and the Slack HTTP endpoint refuse requests that are not
verifiably from the platform (missing or wrong secret, bad signature, stale
timestamp, oversized body, wrong method). Writing an audit row for each would let
anyone on the internet fill the audit log; instead each refusal is counted here
(O(1), in memory, a bounded number of sources per window), and the scheduler writes
one summary row per minute that had any (`drain`), naming the busiest sources and
reasons. A window at or past the alert threshold is reported to the admins once per
flood (not again while the following minutes stay above it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["FLOOD_KINDS", "FloodCounter", "FloodSummary"]

# Security events that come from unauthenticated HTTP requests (adapters' names).
FLOOD_KINDS = frozenset({"telegram_webhook_rejected", "slack_signature_rejected"})
_TOP = 20  # sources named in a summary row


@dataclass(slots=True)
class _Window:
    start: datetime
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # kind, source, reason
    sources: set[str] = field(default_factory=set)
    overflow: int = 0  # refusals from sources past the cap (counted, not named)


@dataclass(frozen=True, slots=True, kw_only=True)
class FloodSummary:
    """One minute of refusals: what goes into its audit row, and whether to alert."""

    window: datetime
    total: int
    detail: Mapping[str, object]
    alert: bool


class FloodCounter:
    """Counts refusals per minute window; `drain` turns finished windows into summaries."""

    def __init__(self, *, alert_at: int, max_sources: int = 1000) -> None:
        self._alert_at = alert_at
        self._max_sources = max_sources
        self._windows: dict[datetime, _Window] = {}
        self._flooding = False

    def count(self, kind: str, detail: Mapping[str, object], now: datetime) -> None:
        """Count one refused request (`detail` carries `remote` and `reason`)."""
        start = now.replace(second=0, microsecond=0)
        window = self._windows.get(start)
        if window is None:
            window = self._windows[start] = _Window(start=start)
        source = str(detail.get("remote") or "?")[:64]
        reason = str(detail.get("reason") or "?")[:32]
        if source not in window.sources:
            if len(window.sources) >= self._max_sources:
                window.overflow += 1
                return
            window.sources.add(source)
        window.counts[(kind, source, reason)] += 1

    def pending(self) -> int:
        """Refusals counted and not yet drained."""
        return sum(sum(w.counts.values()) + w.overflow for w in self._windows.values())

    def drain(self, now: datetime, *, everything: bool = False) -> list[FloodSummary]:
        """Summaries of the windows that ended before `now` (all of them with `everything`)."""
        current = now.replace(second=0, microsecond=0)
        done = sorted(s for s in self._windows if everything or s < current)
        out: list[FloodSummary] = []
        for start in done:
            window = self._windows.pop(start)
            total = sum(window.counts.values()) + window.overflow
            by_source: Counter[str] = Counter()
            reasons: Counter[str] = Counter()
            kinds: Counter[str] = Counter()
            for (kind, source, reason), n in window.counts.items():
                by_source[source] += n
                reasons[reason] += n
                kinds[kind] += n
            loud = total >= self._alert_at
            alert = loud and not self._flooding
            self._flooding = loud
            out.append(
                FloodSummary(
                    window=start,
                    total=total,
                    alert=alert,
                    detail={
                        "window_start": start.isoformat(),
                        "window_seconds": int(timedelta(minutes=1).total_seconds()),
                        "total": total,
                        "kinds": dict(kinds),
                        "reasons": dict(reasons),
                        "sources": len(window.sources) + (1 if window.overflow else 0),
                        "top_sources": dict(by_source.most_common(_TOP)),
                        "unnamed": window.overflow,
                        "alert": alert,
                    },
                )
            )
        if not done and not self._windows:
            self._flooding = False
        return out
