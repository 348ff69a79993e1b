"""The flood counter: refusals per source and minute, summaries for finished minutes only,
a bounded number of named sources, and one alert per flood."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.floods import FloodCounter

T0 = datetime(2026, 11, 22, 12, 0, 5, tzinfo=UTC)


def _refuse(counter: FloodCounter, n: int, at: datetime, source: str = "203.0.113.9") -> None:
    for _ in range(n):
        counter.count("telegram_webhook_rejected", {"remote": source, "reason": "secret"}, at)


def test_only_finished_minutes_are_summarised() -> None:
    """The running minute stays open; a finished one becomes one summary with its counts."""
    counter = FloodCounter(alert_at=1000)
    _refuse(counter, 7, T0)
    assert counter.drain(T0 + timedelta(seconds=30)) == []
    (summary,) = counter.drain(T0 + timedelta(minutes=1))
    assert (summary.total, summary.alert) == (7, False)
    assert summary.detail["top_sources"] == {"203.0.113.9": 7}
    assert summary.detail["reasons"] == {"secret": 7}
    assert counter.pending() == 0


def test_sources_past_the_cap_are_counted_not_named() -> None:
    """A flood from many addresses keeps memory bounded and still counts every request."""
    counter = FloodCounter(alert_at=1000, max_sources=10)
    for i in range(50):
        _refuse(counter, 2, T0, source=f"198.51.100.{i}")
    (summary,) = counter.drain(T0, everything=True)
    assert summary.total == 100
    assert summary.detail["unnamed"] == 80
    assert len(summary.detail["top_sources"]) == 10  # type: ignore[arg-type]


def test_one_alert_per_flood() -> None:
    """Minutes past the threshold alert once; a quiet minute ends the flood; a new one alerts again."""
    counter = FloodCounter(alert_at=5)
    alerts = []
    for minute, n in enumerate([6, 9, 0, 2, 8]):
        _refuse(counter, n, T0 + timedelta(minutes=minute))
        alerts += [s.alert for s in counter.drain(T0 + timedelta(minutes=minute + 1))]
    assert alerts == [True, False, False, True]
