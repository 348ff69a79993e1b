"""Approvals: encrypted payloads, token lookup, and exactly-once transitions under concurrency."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from storage import Approval, ConstraintError, Database, FieldCipher, KeyFileError

DECISIONS = ["approved", "denied", "expired", "cancelled"]


async def _park(db: Database, now: datetime, n: int = 1, *, ttl: int = 300) -> Approval:
    return await db.approvals.create(
        public_id=f"AP-{n}",
        request_hash=f"req-{n}",
        payload=b'{"tool": "logs", "args": {"service": "api"}}',
        requester="slack:T1:U1",
        tool="logs",
        risk=2,
        kind="run",
        approve_token_hash=f"approve-{n}",
        deny_token_hash=f"deny-{n}",
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        channel_key="slack:T1:C1",
        admin_required=True,
    )


async def test_create_round_trips_and_encrypts_at_rest(
    db: Database, db_path: Path, now: datetime
) -> None:
    """The payload comes back as given but is stored only as ciphertext."""
    approval = await _park(db, now)
    assert approval.payload == b'{"tool": "logs", "args": {"service": "api"}}'
    assert approval.status == "pending"
    assert approval.admin_required is True
    assert approval.expires_at == now + timedelta(seconds=300)
    assert await db.approvals.get(approval.id) == approval
    assert await db.approvals.get_by_public_id("AP-1") == approval
    with sqlite3.connect(db_path) as raw:
        stored = raw.execute("SELECT payload FROM approvals").fetchone()[0]
    raw.close()
    assert b"logs" not in stored
    assert b"service" not in stored


async def test_without_cipher_approvals_fail_closed(db_path: Path, now: datetime) -> None:
    """With no data key, parking a request raises instead of storing plaintext."""
    db = await Database.open(db_path)
    try:
        with pytest.raises(KeyFileError):
            await _park(db, now)
        assert await db.approvals.pending() == []
    finally:
        await db.close()


async def test_find_by_token_hash_tells_which_button(db: Database, now: datetime) -> None:
    """A token hash finds its approval and says whether it is the approve or deny one."""
    approval = await _park(db, now)
    assert await db.approvals.find_by_token_hash("approve-1") == (approval, "approve")
    assert await db.approvals.find_by_token_hash("deny-1") == (approval, "deny")
    assert await db.approvals.find_by_token_hash("other") is None


async def test_duplicate_public_id_is_a_constraint_error(db: Database, now: datetime) -> None:
    """Two approvals cannot share a public id."""
    await _park(db, now)
    with pytest.raises(ConstraintError):
        await _park(db, now)


@pytest.mark.parametrize("to_status", DECISIONS, ids=DECISIONS)
async def test_decide_under_50_concurrent_callers_has_one_winner(
    db: Database, now: datetime, to_status: str
) -> None:
    """Fifty concurrent decide() calls: exactly one returns True and its decision sticks."""
    approval = await _park(db, now)
    results = await asyncio.gather(
        *(
            db.approvals.decide(
                approval.id, to_status=to_status, by=f"slack:T1:A{i}", now=now, reason="r"
            )
            for i in range(50)
        )
    )
    assert results.count(True) == 1
    winner = results.index(True)
    stored = await db.approvals.get(approval.id)
    assert stored is not None
    assert stored.status == to_status
    assert stored.decided_by == f"slack:T1:A{winner}"
    assert stored.decided_at == now


async def test_mixed_concurrent_decisions_have_one_winner(db: Database, now: datetime) -> None:
    """Approve and deny racing across two connections to the same file: one wins."""
    approval = await _park(db, now)
    other = await Database.open(db.path)
    try:
        calls = [
            (db if i % 2 else other).approvals.decide(
                approval.id,
                to_status="approved" if i % 3 else "denied",
                by=f"u{i}",
                now=now,
            )
            for i in range(50)
        ]
        results = await asyncio.gather(*calls)
    finally:
        await other.close()
    assert results.count(True) == 1


async def test_approving_after_expiry_fails(db: Database, now: datetime) -> None:
    """An overdue approval cannot be approved even before the expiry job ran; denying works."""
    approval = await _park(db, now, ttl=60)
    late = now + timedelta(seconds=60)
    assert await db.approvals.decide(approval.id, to_status="approved", by="a", now=late) is False
    assert await db.approvals.decide(approval.id, to_status="denied", by="a", now=late) is True


async def test_decide_rejects_non_decision_status(db: Database, now: datetime) -> None:
    """`executed` and `pending` are not decisions."""
    approval = await _park(db, now)
    for bad in ("executed", "pending", "bogus"):
        with pytest.raises(ValueError, match="decision"):
            await db.approvals.decide(approval.id, to_status=bad, by="a", now=now)


async def test_mark_executed_exactly_once(db: Database, now: datetime) -> None:
    """Only an approved request can be claimed, by one of many concurrent callers, once."""
    approval = await _park(db, now)
    assert await db.approvals.mark_executed(approval.id, "run-0") is False  # still pending
    assert await db.approvals.decide(approval.id, to_status="approved", by="a", now=now)
    results = await asyncio.gather(
        *(db.approvals.mark_executed(approval.id, f"run-{i}", now=now) for i in range(50))
    )
    assert results.count(True) == 1
    stored = await db.approvals.get(approval.id)
    assert stored is not None
    assert stored.status == "executed"
    assert stored.run_id == f"run-{results.index(True)}"
    assert stored.executed_at == now


async def test_mark_executed_survives_restart(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """After a restart the already-executed request cannot be claimed again."""
    first = await Database.open(db_path, cipher=cipher)
    approval = await _park(first, now)
    await first.approvals.decide(approval.id, to_status="approved", by="a", now=now)
    assert await first.approvals.mark_executed(approval.id, "run-1") is True
    await first.close()
    second = await Database.open(db_path, cipher=cipher)
    try:
        assert await second.approvals.mark_executed(approval.id, "run-2") is False
    finally:
        await second.close()


async def test_pending_and_expire_due(db: Database, now: datetime) -> None:
    """expire_due moves exactly the overdue pending ones and returns them, once."""
    short = await _park(db, now, 1, ttl=10)
    long = await _park(db, now, 2, ttl=1000)
    decided = await _park(db, now, 3, ttl=10)
    await db.approvals.decide(decided.id, to_status="denied", by="a", now=now)
    assert [a.id for a in await db.approvals.pending()] == [short.id, long.id]
    later = now + timedelta(seconds=10)
    assert [a.id for a in await db.approvals.pending(later)] == [long.id]
    expired = await db.approvals.expire_due(later)
    assert [(a.id, a.status, a.decided_by) for a in expired] == [(short.id, "expired", "system")]
    assert await db.approvals.expire_due(later) == []
    assert [a.id for a in await db.approvals.pending()] == [long.id]


async def test_card_refs_keep_order(db: Database, now: datetime) -> None:
    """Several card references are stored per approval, in the order added."""
    approval = await _park(db, now)
    other = await _park(db, now, 2)
    await db.approvals.add_card_ref(approval.id, '{"platform": "slack", "ts": "1"}')
    await db.approvals.add_card_ref(approval.id, '{"platform": "telegram", "message_id": 7}')
    assert await db.approvals.card_refs(approval.id) == [
        '{"platform": "slack", "ts": "1"}',
        '{"platform": "telegram", "message_id": 7}',
    ]
    assert await db.approvals.card_refs(other.id) == []


async def test_card_ref_for_unknown_approval_is_refused(db: Database) -> None:
    """Foreign keys are enforced: a card for a missing approval is a constraint error."""
    with pytest.raises(ConstraintError):
        await db.approvals.add_card_ref(999, "{}")


async def test_votes_count_distinct_voters(db: Database, now: datetime) -> None:
    """Votes are idempotent per voter and counted for the two-person rule."""
    approval = await _park(db, now)
    assert await db.approvals.add_vote(approval.id, "a", now) == 1
    assert await db.approvals.add_vote(approval.id, "a", now) == 1
    assert await db.approvals.add_vote(approval.id, "b", now + timedelta(seconds=1)) == 2
    assert await db.approvals.votes(approval.id) == ["a", "b"]


async def test_wrong_key_cannot_read_payload(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """Reading parked requests with another key raises StorageError, never garbage."""
    from storage import DecryptError

    first = await Database.open(db_path, cipher=cipher)
    await _park(first, now)
    await first.close()
    second = await Database.open(db_path, cipher=FieldCipher(FieldCipher.generate_key()))
    try:
        with pytest.raises(DecryptError):
            await second.approvals.pending()
    finally:
        await second.close()


async def test_purge_removes_only_old_settled_approvals(db: Database, now: datetime) -> None:
    """Old settled approvals go (with their cards and votes); pending and approved ones stay."""
    settled = await _park(db, now, 1)
    waiting = await _park(db, now, 2)
    approved = await _park(db, now, 3)
    young = await _park(db, now + timedelta(days=2), 4)
    await db.approvals.decide(settled.id, to_status="denied", by="a", now=now)
    await db.approvals.decide(approved.id, to_status="approved", by="a", now=now)
    await db.approvals.decide(young.id, to_status="denied", by="a", now=now)
    await db.approvals.add_card_ref(settled.id, "{}")
    await db.approvals.add_vote(settled.id, "a", now)
    await db.runs.start(run_id="r1", approval_id=settled.id, requester="u", tool="t", now=now)
    assert await db.approvals.purge(now + timedelta(days=1)) == 1
    assert await db.approvals.get(settled.id) is None
    assert await db.approvals.card_refs(settled.id) == []
    assert await db.approvals.votes(settled.id) == []
    run = await db.runs.get("r1")
    assert run is not None
    assert run.approval_id is None
    remaining = {a.id for a in await db.approvals.pending()}
    assert remaining == {waiting.id}
    assert await db.approvals.get(approved.id) is not None
    assert await db.approvals.get(young.id) is not None
