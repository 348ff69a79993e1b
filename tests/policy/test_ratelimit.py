"""Tests for the token bucket, concurrency caps and budgets in policy/ratelimit.py."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from policy.ratelimit import (
    Bucket,
    Budget,
    ConcurrencyLimits,
    RateRule,
    Verdict,
    budget_day_start,
    budget_resets_in,
    check_budget,
    check_concurrency,
    take,
)
from policy.reasons import Reason

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RULE = RateRule(per_minute=6, burst=3)  # one token every 10 s


def at(seconds: float) -> datetime:
    """A time `seconds` after T0."""
    return T0 + timedelta(seconds=seconds)


def test_new_bucket_starts_full() -> None:
    """A first message is allowed and leaves burst - 1 tokens."""
    bucket, verdict = take(None, RULE, T0)
    assert verdict == Verdict(allowed=True, retry_after=0.0, notify=False, reason=Reason.OK)
    assert bucket == Bucket(tokens=2.0, updated=T0, limited_notified=False)


def test_burst_then_limited_notifies_once() -> None:
    """After the burst the first denial notifies, later ones in the streak are silent."""
    bucket = None
    verdicts = []
    for _ in range(6):
        bucket, verdict = take(bucket, RULE, T0)
        verdicts.append(verdict)
    assert [v.allowed for v in verdicts] == [True, True, True, False, False, False]
    assert [v.notify for v in verdicts] == [False, False, False, True, False, False]
    assert [v.reason for v in verdicts[3:]] == [
        Reason.RATE_LIMITED,
        Reason.RATE_LIMITED_SILENT,
        Reason.RATE_LIMITED_SILENT,
    ]
    assert verdicts[3].retry_after == pytest.approx(10.0)


def test_refill_resets_the_streak() -> None:
    """Once a token is back the take succeeds and the next limit notifies again."""
    bucket = Bucket(tokens=0.0, updated=T0, limited_notified=False)
    bucket, first = take(bucket, RULE, at(1))
    assert (first.allowed, first.notify) == (False, True)
    assert first.retry_after == pytest.approx(9.0)
    bucket, silent = take(bucket, RULE, at(5))
    assert (silent.allowed, silent.notify) == (False, False)
    assert silent.retry_after == pytest.approx(5.0)
    bucket, ok = take(bucket, RULE, at(10))
    assert ok.allowed
    assert not bucket.limited_notified
    _, again = take(bucket, RULE, at(10))
    assert (again.allowed, again.notify, again.reason) == (False, True, Reason.RATE_LIMITED)


def test_tokens_never_exceed_burst() -> None:
    """A long idle period refills to burst, not beyond."""
    bucket = Bucket(tokens=0.0, updated=T0)
    bucket, _ = take(bucket, RULE, at(86_400))
    assert bucket.tokens == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("stored", "allowed"),
    [
        (Bucket(tokens=math.nan, updated=T0), False),
        (Bucket(tokens=-5.0, updated=T0), False),
        (Bucket(tokens=math.inf, updated=T0), False),
        (Bucket(tokens=1e9, updated=T0), True),
    ],
    ids=["nan", "negative", "inf", "huge-capped"],
)
def test_corrupt_stored_bucket_fails_closed(stored: Bucket, allowed: bool) -> None:
    """Garbage token counts from storage are treated as empty or capped at burst."""
    bucket, verdict = take(stored, RULE, T0)
    assert verdict.allowed is allowed
    assert 0.0 <= bucket.tokens <= RULE.burst


def test_clock_going_backwards_refills_nothing() -> None:
    """A `now` earlier than the stored update adds no tokens and keeps the later timestamp."""
    stored = Bucket(tokens=0.5, updated=at(100))
    bucket, verdict = take(stored, RULE, at(40))
    assert not verdict.allowed
    assert bucket.tokens == pytest.approx(0.5)
    assert bucket.updated == at(100)
    assert verdict.retry_after == pytest.approx(65.0)


def test_steady_rate_is_honoured() -> None:
    """Over ten minutes at one message a second, about burst + 10 min * rate get through."""
    bucket = None
    allowed = 0
    for second in range(600):
        bucket, verdict = take(bucket, RULE, at(second))
        allowed += verdict.allowed
    assert allowed == 3 + 59  # burst, then one every 10 s from t=10 to t=590


@pytest.mark.parametrize(
    ("per_minute", "burst"),
    [(0, 1), (-1, 1), (math.nan, 1), (math.inf, 1), (1, 0)],
    ids=["zero-rate", "negative-rate", "nan-rate", "inf-rate", "zero-burst"],
)
def test_invalid_rule_refused(per_minute: float, burst: int) -> None:
    """A rule that could never allow, or always allow, is a config error."""
    with pytest.raises(ValueError, match="must be"):
        RateRule(per_minute=per_minute, burst=burst)


@pytest.mark.parametrize(
    ("user_active", "global_active", "expected"),
    [
        (0, 0, Reason.OK),
        (1, 9, Reason.OK),
        (2, 0, Reason.CONCURRENCY_USER),
        (5, 10, Reason.CONCURRENCY_USER),
        (0, 10, Reason.CONCURRENCY_GLOBAL),
        (1, 11, Reason.CONCURRENCY_GLOBAL),
    ],
    ids=["idle", "just-below", "user-full", "both-full-user-first", "global-full", "global-over"],
)
def test_check_concurrency(user_active: int, global_active: int, expected: Reason) -> None:
    """One more run is allowed only while both counts are below their limits."""
    limits = ConcurrencyLimits(per_user=2, global_=10)
    assert (
        check_concurrency(user_active=user_active, global_active=global_active, limits=limits)
        == expected
    )


@pytest.mark.parametrize(
    ("used_cpu", "used_runs", "expected"),
    [
        (0.0, 0, Reason.OK),
        (59.9, 99, Reason.OK),
        (60.0, 0, Reason.BUDGET_EXHAUSTED),
        (0.0, 100, Reason.BUDGET_EXHAUSTED),
        (math.nan, 0, Reason.BUDGET_EXHAUSTED),
    ],
    ids=["fresh", "just-below", "cpu-spent", "runs-spent", "nan-fails-closed"],
)
def test_check_budget(used_cpu: float, used_runs: int, expected: Reason) -> None:
    """The budget is exhausted as soon as either CPU seconds or runs reach the limit."""
    budget = Budget(cpu_seconds_per_day=60.0, runs_per_day=100)
    assert check_budget(used_cpu=used_cpu, used_runs=used_runs, budget=budget) == expected


def test_budget_day_is_the_utc_day() -> None:
    """Usage counts from UTC midnight, whatever zone `now` is given in."""

    plus_ten = timezone(timedelta(hours=10))
    now = datetime(2026, 11, 23, 5, 30, tzinfo=plus_ten)  # 2026-11-22 19:30 UTC
    assert budget_day_start(now) == datetime(2026, 11, 22, tzinfo=UTC)
    assert budget_resets_in(now) == timedelta(hours=4, minutes=30)


def test_budget_day_refuses_naive_time() -> None:
    """A naive datetime is a programming error, not a guess."""
    with pytest.raises(ValueError, match="timezone-aware"):
        budget_day_start(datetime(2026, 11, 22, 12, 0))


@pytest.mark.parametrize("seed", range(10), ids=lambda s: f"seed{s}")
def test_random_traffic_never_beats_the_rule(seed: int) -> None:
    """Over random bursts, allowed messages in any span stay within burst + span * rate."""
    rng = random.Random(seed)
    rule = RateRule(per_minute=rng.choice([1, 6, 30, 120]), burst=rng.randint(1, 5))
    now = 0.0
    times: list[float] = []
    bucket = None
    notifies = 0
    streaks = 0
    limited = False
    for _ in range(400):
        now += rng.choice([0.0, 0.1, 0.5, 2.0, 30.0])
        bucket, verdict = take(bucket, rule, at(now))
        if verdict.allowed:
            times.append(now)
            limited = False
            assert verdict.retry_after == 0.0
        else:
            streaks += not limited
            limited = True
            notifies += verdict.notify
            assert verdict.retry_after > 0
    assert notifies == streaks  # told exactly once per limited streak
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            span = times[j] - start
            assert j - i + 1 <= rule.burst + span * rule.per_minute / 60 + 1e-9


@pytest.mark.parametrize("seed", range(5), ids=lambda s: f"seed{s}")
def test_retry_after_is_exact(seed: int) -> None:
    """Waiting exactly retry_after seconds after a denial is enough, and a bit less is not."""
    rng = random.Random(seed)
    rule = RateRule(per_minute=rng.choice([2, 7, 60]), burst=rng.randint(1, 3))
    bucket = None
    for _ in range(rule.burst):
        bucket, _ = take(bucket, rule, T0)
    bucket, denied = take(bucket, rule, T0)
    assert not denied.allowed
    wait = denied.retry_after
    _, early = take(bucket, rule, at(wait * 0.99))
    assert not early.allowed
    _, on_time = take(bucket, rule, at(wait + 1e-6))
    assert on_time.allowed
