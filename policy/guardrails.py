"""Guardrails against runaway use: a circuit breaker per tool, strike counters, a rate-anomaly check.

Pure functions over small frozen states; time is passed in.

- `Breaker`: when a tool's failure (or timeout) rate over a window passes a
  threshold, it opens (the tool is paused) for a cooldown; after it, one run is
  let through (half-open): success closes it, failure opens it again.
- `strike`: counts events (injection hits, denials) in a sliding window and says
  when a threshold is crossed, once per crossing.
- `Usual`: a user's usual message rate (an exponentially weighted mean of
  per-minute counts) and whether the current minute is far above it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

__all__ = [
    "Breaker",
    "BreakerRule",
    "StrikeRule",
    "Usual",
    "UsualRule",
    "breaker_allows",
    "breaker_record",
    "strike",
    "usual_record",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerRule:
    """When a tool is paused: at least `min_runs` in `window`, of which more than `max_failure_rate` failed."""

    window: timedelta = timedelta(minutes=10)
    min_runs: int = 5
    max_failure_rate: float = 0.5
    cooldown: timedelta = timedelta(minutes=5)
    max_samples: int = (
        50  # the rate is judged over at most this many of the latest runs in the window
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Breaker:
    """One tool's recent results and whether it is paused."""

    results: tuple[tuple[datetime, bool], ...] = ()  # (when, failed)
    open_until: datetime | None = None
    probing: bool = False


def breaker_allows(b: Breaker, now: datetime) -> bool:
    """True when the tool may run now (closed, or half-open after the cooldown)."""
    return b.open_until is None or now >= b.open_until


def breaker_record(
    b: Breaker, rule: BreakerRule, now: datetime, *, failed: bool
) -> tuple[Breaker, bool]:
    """Record one run's result; returns the new state and whether the breaker just opened."""
    if b.open_until is not None:
        if now < b.open_until:
            return b, False  # a run that started before the trip: already counted
        if failed:  # the half-open probe failed: pause again
            return Breaker(open_until=now + rule.cooldown), True
        return Breaker(), False
    kept = b.results[-(rule.max_samples - 1) :] if rule.max_samples > 1 else ()
    recent = (*((t, f) for t, f in kept if now - t <= rule.window), (now, failed))
    failures = sum(1 for _, f in recent if f)
    if len(recent) >= rule.min_runs and failures / len(recent) > rule.max_failure_rate:
        return Breaker(open_until=now + rule.cooldown), True
    return replace(b, results=recent), False


@dataclass(frozen=True, slots=True, kw_only=True)
class StrikeRule:
    """`threshold` events within `window` is a crossing."""

    window: timedelta = timedelta(hours=1)
    threshold: int = 3


def strike(
    times: tuple[datetime, ...], rule: StrikeRule, now: datetime
) -> tuple[tuple[datetime, ...], bool]:
    """Add an event at `now`; True exactly when this event makes the count reach the threshold.

    After a crossing the counter starts again, so a steady stream crosses once per `threshold` events.
    """
    recent = (*tuple(t for t in times if now - t <= rule.window), now)
    if len(recent) >= rule.threshold:
        return (), True
    return recent, False


@dataclass(frozen=True, slots=True, kw_only=True)
class UsualRule:
    """A minute is unusual when it has more than `factor` times the usual rate and at least `floor` messages."""

    factor: float = 5.0
    floor: int = 20
    weight: float = 0.1  # how fast the usual rate follows recent minutes
    quiet: timedelta = timedelta(hours=1)  # at most one alert per user per this long


@dataclass(frozen=True, slots=True, kw_only=True)
class Usual:
    """A user's usual per-minute rate and the minute being counted."""

    mean: float = 0.0
    minute: datetime | None = None
    count: int = 0
    alerted: datetime | None = None


def usual_record(u: Usual, rule: UsualRule, now: datetime) -> tuple[Usual, bool]:
    """Count one message; True (once per `quiet`) when this minute is far above the usual rate."""
    minute = now.replace(second=0, microsecond=0)
    if u.minute is None:
        u = Usual(mean=0.0, minute=minute, count=0, alerted=u.alerted)
    elif minute > u.minute:
        missed = int((minute - u.minute) / timedelta(minutes=1))
        mean = u.mean * (1 - rule.weight) + u.count * rule.weight
        mean *= (1 - rule.weight) ** max(0, missed - 1)  # quiet minutes pull the mean down
        u = Usual(mean=mean, minute=minute, count=0, alerted=u.alerted)
    u = replace(u, count=u.count + 1)
    unusual = u.count >= rule.floor and u.count > rule.factor * max(u.mean, 1.0)
    if unusual and (u.alerted is None or now - u.alerted >= rule.quiet):
        return replace(u, alerted=now), True
    return u, False
