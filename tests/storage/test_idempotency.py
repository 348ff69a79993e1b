"""Idempotency keys: the first claim wins, even under concurrency; old keys are purged."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from storage import Database


async def test_claim_is_true_only_the_first_time(db: Database, now: datetime) -> None:
    """A key is claimed once; other keys are independent."""
    assert await db.idempotency.claim("slack:Ev1", now) is True
    assert await db.idempotency.claim("slack:Ev1", now) is False
    assert await db.idempotency.claim("telegram:1", now) is True


async def test_concurrent_claims_have_one_winner(db: Database, now: datetime) -> None:
    """Fifty concurrent claims of one key (across two connections): exactly one succeeds."""
    other = await Database.open(db.path)
    try:
        results = await asyncio.gather(
            *((db if i % 2 else other).idempotency.claim("ev", now) for i in range(50))
        )
    finally:
        await other.close()
    assert results.count(True) == 1


async def test_purge_forgets_old_keys_only(db: Database, now: datetime) -> None:
    """Keys older than the cut are forgotten (and claimable again); newer ones stay."""
    await db.idempotency.claim("old", now)
    await db.idempotency.claim("new", now + timedelta(hours=2))
    assert await db.idempotency.purge(now + timedelta(hours=1)) == 1
    assert await db.idempotency.claim("new", now) is False
    assert await db.idempotency.claim("old", now) is True
