"""Guardrails: the circuit breaker, strike counters and the usual-rate check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policy.guardrails import (
    Breaker,
    BreakerRule,
    StrikeRule,
    Usual,
    UsualRule,
    breaker_allows,
    breaker_record,
    strike,
    usual_record,
)

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RULE = BreakerRule(
    window=timedelta(minutes=10), min_runs=4, max_failure_rate=0.5, cooldown=timedelta(minutes=5)
)


def _feed(
    results: list[bool], *, step: timedelta = timedelta(seconds=10)
) -> tuple[Breaker, list[bool]]:
    b, trips = Breaker(), []
    for i, failed in enumerate(results):
        b, tripped = breaker_record(b, RULE, T0 + i * step, failed=failed)
        trips.append(tripped)
    return b, trips


@pytest.mark.parametrize(
    ("results", "opens"),
    [
        ([True, True, True], False),
        ([True, True, True, True], True),
        ([False, True, False, True], False),
        ([False, True, True, True], True),
        ([False] * 10, False),
    ],
    ids=["too-few-runs", "all-failed", "half-failed", "mostly-failed", "healthy"],
)
def test_breaker_opens_past_the_failure_rate(results: list[bool], opens: bool) -> None:
    """The breaker opens only with enough runs and a failure rate above the threshold."""
    b, trips = _feed(results)
    assert any(trips) == opens
    assert breaker_allows(b, T0 + timedelta(minutes=2)) != opens


def test_breaker_recovers_after_a_good_probe_and_reopens_after_a_bad_one() -> None:
    """After the cooldown one run is let through: success closes, failure pauses again."""
    b, _ = _feed([True] * 4)
    later = T0 + timedelta(minutes=6)
    assert breaker_allows(b, later)
    again, tripped = breaker_record(b, RULE, later, failed=True)
    assert tripped and not breaker_allows(again, later + timedelta(minutes=1))
    closed, tripped = breaker_record(b, RULE, later, failed=False)
    assert not tripped and closed == Breaker()


def test_old_failures_leave_the_window() -> None:
    """Failures older than the window do not count."""
    _, trips = _feed([True, True, True, False, False, False, False], step=timedelta(minutes=4))
    assert not any(trips)


def test_strike_crosses_once_per_threshold() -> None:
    """Three events in the window cross once; the counter then starts again."""
    rule = StrikeRule(window=timedelta(hours=1), threshold=3)
    times: tuple[datetime, ...] = ()
    crossings = []
    for i in range(7):
        times, crossed = strike(times, rule, T0 + timedelta(minutes=i))
        crossings.append(crossed)
    assert crossings == [False, False, True, False, False, True, False]


def test_strikes_spread_out_never_cross() -> None:
    """Events further apart than the window never add up."""
    rule = StrikeRule(window=timedelta(minutes=10), threshold=2)
    times: tuple[datetime, ...] = ()
    for i in range(5):
        times, crossed = strike(times, rule, T0 + timedelta(minutes=15 * i))
        assert not crossed


def test_usual_rate_alerts_once_on_a_spike() -> None:
    """A user who sends 2 a minute for an hour, then 40 in a minute, triggers one alert."""
    rule = UsualRule(factor=5, floor=20)
    u = Usual()
    alerts = 0
    for m in range(60):
        for s in range(2):
            u, alert = usual_record(u, rule, T0 + timedelta(minutes=m, seconds=s))
            alerts += alert
    assert alerts == 0
    for s in range(40):
        u, alert = usual_record(u, rule, T0 + timedelta(minutes=60, seconds=s))
        alerts += alert
    assert alerts == 1


def test_a_steady_heavy_user_is_usual() -> None:
    """Someone who always sends 30 a minute is not an anomaly once their usual rate is known."""
    rule = UsualRule(factor=5, floor=20)
    u = Usual()
    alerts = []
    for m in range(120):
        for s in range(30):
            u, alert = usual_record(u, rule, T0 + timedelta(minutes=m, seconds=s))
            alerts.append((m, alert))
    assert not any(a for m, a in alerts if m >= 30)


def test_breaker_state_stays_bounded() -> None:
    """Thousands of runs keep only the latest samples, and a recent failure streak still trips it."""
    rule = BreakerRule(window=timedelta(hours=1), min_runs=5, max_failure_rate=0.5, max_samples=20)
    b = Breaker()
    for i in range(5000):
        b, tripped = breaker_record(b, rule, T0 + timedelta(milliseconds=i), failed=False)
        assert not tripped
    assert len(b.results) <= 20
    trips = []
    for i in range(15):
        b, tripped = breaker_record(b, rule, T0 + timedelta(seconds=10 + i), failed=True)
        trips.append(tripped)
    assert any(trips)
