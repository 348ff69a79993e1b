"""Rate limiting: a per-user token bucket, concurrency caps and a daily CPU/run budget.

`take(bucket, rule, now)` is pure: it returns the new bucket to store and a verdict. A
denied verdict carries `retry_after` in seconds and `notify`, which is True only on the
first denial of a limited streak, so the user is told once when to retry instead of on
every message (later denials use RATE_LIMITED_SILENT). A successful take clears the streak.

A bucket loaded from storage is treated defensively: NaN or negative tokens count as
empty, more than `burst` is capped, and a clock that went backwards refills nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from policy.reasons import Reason

__all__ = [
    "Bucket",
    "Budget",
    "ConcurrencyLimits",
    "RateRule",
    "Verdict",
    "budget_day_start",
    "budget_resets_in",
    "check_budget",
    "check_concurrency",
    "take",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RateRule:
    """Refill `per_minute` tokens a minute, hold at most `burst`; one message costs one token."""

    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.per_minute) and self.per_minute > 0):
            raise ValueError("per_minute must be a positive finite number")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """Stored state of one user's bucket."""

    tokens: float
    updated: datetime
    limited_notified: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """Outcome of one `take`: `retry_after` is 0.0 when allowed."""

    allowed: bool
    retry_after: float
    notify: bool
    reason: Reason


def _refill(bucket: Bucket | None, rule: RateRule, now: datetime) -> tuple[float, datetime, bool]:
    if bucket is None:
        return float(rule.burst), now, False
    tokens = bucket.tokens
    if not math.isfinite(tokens) or tokens < 0:
        tokens = 0.0
    elapsed = (now - bucket.updated).total_seconds()
    updated = bucket.updated
    if elapsed > 0:
        tokens += elapsed * rule.per_minute / 60.0
        updated = now
    return min(tokens, float(rule.burst)), updated, bucket.limited_notified


def take(bucket: Bucket | None, rule: RateRule, now: datetime) -> tuple[Bucket, Verdict]:
    """Take one token for a message at `now`; returns the bucket to store and the verdict."""
    tokens, updated, notified = _refill(bucket, rule, now)
    if tokens >= 1.0:
        new = Bucket(tokens=tokens - 1.0, updated=updated, limited_notified=False)
        return new, Verdict(allowed=True, retry_after=0.0, notify=False, reason=Reason.OK)
    retry_after = (1.0 - tokens) * 60.0 / rule.per_minute
    if now < updated:  # clock went backwards: the refill restarts from `updated`
        retry_after += (updated - now).total_seconds()
    notify = not notified
    reason = Reason.RATE_LIMITED if notify else Reason.RATE_LIMITED_SILENT
    new = Bucket(tokens=tokens, updated=updated, limited_notified=True)
    return new, Verdict(allowed=False, retry_after=retry_after, notify=notify, reason=reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConcurrencyLimits:
    """At most `per_user` runs of one user and `global_` runs in all at the same time."""

    per_user: int
    global_: int


def check_concurrency(*, user_active: int, global_active: int, limits: ConcurrencyLimits) -> Reason:
    """OK when one more run fits, else which limit is full (the user's is checked first)."""
    if user_active >= limits.per_user:
        return Reason.CONCURRENCY_USER
    if global_active >= limits.global_:
        return Reason.CONCURRENCY_GLOBAL
    return Reason.OK


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """What one user may use per UTC day."""

    cpu_seconds_per_day: float
    runs_per_day: int


def check_budget(*, used_cpu: float, used_runs: int, budget: Budget) -> Reason:
    """OK while both CPU seconds and runs used today are below the budget; NaN fails closed."""
    if not (used_cpu < budget.cpu_seconds_per_day) or used_runs >= budget.runs_per_day:
        return Reason.BUDGET_EXHAUSTED
    return Reason.OK


def budget_day_start(now: datetime) -> datetime:
    """Start of the UTC day that `now` falls in: count usage since then."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.astimezone(UTC)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def budget_resets_in(now: datetime) -> timedelta:
    """Time until the budget resets (the next UTC midnight)."""
    return budget_day_start(now) + timedelta(days=1) - now
