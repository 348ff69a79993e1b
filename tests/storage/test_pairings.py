"""Pairing requests and the per-sender failed-attempt counter."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from storage import Database, PairingRequest


async def _request(
    db: Database,
    now: datetime,
    actor: str = "telegram:telegram:1",
    *,
    code: str = "h1",
    platform: str = "telegram",
    ttl: int = 600,
) -> PairingRequest:
    return await db.pairings.create(
        actor_key=actor,
        platform=platform,
        display_name="Ann",
        code_hash=code,
        now=now,
        expires_at=now + timedelta(seconds=ttl),
    )


async def test_create_and_lookups(db: Database, now: datetime) -> None:
    """A request is found by hash, by sender and in its platform's pending list."""
    first = await _request(db, now, code="h1")
    second = await _request(db, now, code="h2")
    slack = await _request(db, now, "slack:T:U", code="h3", platform="slack")
    assert first.status == "pending"
    assert first.decided_by is None
    assert await db.pairings.find_pending_by_hash("h2", now) == second
    assert await db.pairings.find_pending_by_hash("nope", now) is None
    assert await db.pairings.latest_for_actor("telegram:telegram:1") == second
    assert await db.pairings.latest_for_actor("nobody") is None
    assert await db.pairings.pending_for_platform("telegram", now) == [first, second]
    assert await db.pairings.pending_for_platform("slack", now) == [slack]
    assert await db.pairings.get(first.id) == first


async def test_expired_requests_are_not_found(db: Database, now: datetime) -> None:
    """Past its expiry a request is not pending, and expire() marks it."""
    request = await _request(db, now, ttl=60)
    later = now + timedelta(seconds=60)
    assert await db.pairings.find_pending_by_hash("h1", later) is None
    assert await db.pairings.pending_for_platform("telegram", later) == []
    assert await db.pairings.expire(later) == 1
    assert await db.pairings.expire(later) == 0
    stored = await db.pairings.get(request.id)
    assert stored is not None
    assert (stored.status, stored.decided_by, stored.decided_at) == ("expired", "system", later)


async def test_decide_has_one_winner(db: Database, now: datetime) -> None:
    """Concurrent approve/reject of one request: exactly one call wins."""
    request = await _request(db, now)
    results = await asyncio.gather(
        *(
            db.pairings.decide(
                request.id, status="approved" if i % 2 else "rejected", by=f"a{i}", now=now
            )
            for i in range(30)
        )
    )
    assert results.count(True) == 1
    stored = await db.pairings.get(request.id)
    assert stored is not None
    assert stored.decided_by == f"a{results.index(True)}"
    assert await db.pairings.find_pending_by_hash("h1", now) is None


async def test_cannot_approve_after_expiry(db: Database, now: datetime) -> None:
    """An overdue request cannot be approved, even before expire() ran."""
    request = await _request(db, now, ttl=10)
    late = now + timedelta(seconds=10)
    assert await db.pairings.decide(request.id, status="approved", by="a", now=late) is False
    assert await db.pairings.decide(request.id, status="rejected", by="a", now=late) is True


@pytest.mark.parametrize("status", ["pending", "paired", ""], ids=["pending", "paired", "empty"])
async def test_decide_rejects_non_decisions(db: Database, now: datetime, status: str) -> None:
    """Only approved, rejected and expired are decisions."""
    request = await _request(db, now)
    with pytest.raises(ValueError, match="decision"):
        await db.pairings.decide(request.id, status=status, by="a", now=now)


async def test_failure_counter(db: Database, now: datetime) -> None:
    """Failures are counted per sender within a window, cleared on success and purged when old."""
    for minutes in (0, 5, 10):
        await db.pairings.record_failure("s1", now + timedelta(minutes=minutes))
    await db.pairings.record_failure("s2", now)
    assert await db.pairings.failures_since("s1", now) == 3
    assert await db.pairings.failures_since("s1", now + timedelta(minutes=5)) == 2
    assert await db.pairings.failures_since("s2", now) == 1
    assert await db.pairings.clear_failures("s1") == 3
    assert await db.pairings.failures_since("s1", now) == 0
    assert await db.pairings.purge_failures(now + timedelta(minutes=1)) == 1
    assert await db.pairings.failures_since("s2", now) == 0
