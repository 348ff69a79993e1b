"""Audit retention: purge with a signed checkpoint keeps the chain verifiable."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from storage import (
    AuditIntegrityError,
    Database,
    FieldCipher,
)
from tests.storage.audit_helpers import fill_log, sample_event, tamper


async def test_purge_keeps_chain_verifiable(db: Database, now: datetime) -> None:
    """Purging old rows stores a signed checkpoint from which the rest still verifies."""
    await fill_log(db, now, 10)
    assert await db.audit.purge_before(now + timedelta(seconds=4), now=now) == 4
    assert await db.audit.checkpoint() is not None
    assert [r.seq for r in await db.audit.tail(100)] == list(range(5, 11))
    result = await db.audit.verify()
    assert (result.ok, result.rows_checked) == (True, 6)
    await db.audit.append(sample_event(now, 11))
    assert (await db.audit.verify()).ok
    assert await db.audit.purge_before(now + timedelta(seconds=4), now=now) == 0
    assert await db.audit.purge_before(now + timedelta(days=1), now=now) == 7
    result = await db.audit.verify()
    assert (result.ok, result.rows_checked) == (True, 0)
    row = await db.audit.append(sample_event(now, 12))
    assert row.seq == 12
    assert (await db.audit.verify()).ok


async def test_purge_then_reopen_continues_from_checkpoint(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """With every row purged, a reopened log continues the chain from the checkpoint."""
    first = await Database.open(db_path, cipher=cipher)
    await fill_log(first, now, 4)
    head = await first.audit.head()
    await first.audit.purge_before(now + timedelta(days=1))
    await first.close()
    second = await Database.open(db_path, cipher=cipher)
    try:
        assert await second.audit.head() == head
        row = await second.audit.append(sample_event(now, 5))
        assert row.prev_hash == head[1]
        assert (await second.audit.verify()).ok
    finally:
        await second.close()


CHECKPOINT_TAMPERING: list[tuple[str, str, str]] = [
    ("moved_seq", "UPDATE audit_checkpoint SET seq = seq + 1", "checkpoint_bad_signature"),
    (
        "changed_hash",
        "UPDATE audit_checkpoint SET hash = '" + "1" * 64 + "'",
        "checkpoint_bad_signature",
    ),
    ("stripped_mac", "UPDATE audit_checkpoint SET mac = ''", "checkpoint_unsigned"),
]


@pytest.mark.parametrize(
    ("statement", "problem"),
    [t[1:] for t in CHECKPOINT_TAMPERING],
    ids=[t[0] for t in CHECKPOINT_TAMPERING],
)
async def test_checkpoint_tampering_is_detected(
    db: Database, db_path: Path, now: datetime, statement: str, problem: str
) -> None:
    """A checkpoint edited without the key fails verification, and purging refuses to run."""
    await fill_log(db, now, 6)
    await db.audit.purge_before(now + timedelta(seconds=3))
    tamper(db_path, statement)
    result = await db.audit.verify()
    assert (result.ok, result.problem) == (False, problem)
    with pytest.raises(AuditIntegrityError):
        await db.audit.purge_before(now + timedelta(seconds=5))


async def test_checkpoint_signed_but_no_key_given(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """Verifying a signed checkpoint without any key is not reported as ok."""
    first = await Database.open(db_path, cipher=cipher)
    await fill_log(first, now, 4)
    await first.audit.purge_before(now + timedelta(seconds=2))
    await first.close()
    keyless = await Database.open(db_path)
    try:
        result = await keyless.audit.verify()
        assert (result.ok, result.problem) == (False, "checkpoint_key_missing")
    finally:
        await keyless.close()


async def test_checkpoint_verifies_after_key_rotation(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """A checkpoint signed with an older key still verifies once a new key is prepended."""
    old_key = FieldCipher.generate_key()
    first = await Database.open(db_path, cipher=FieldCipher(old_key))
    await fill_log(first, now, 4)
    await first.audit.purge_before(now + timedelta(seconds=2))
    await first.close()
    rotated = FieldCipher([FieldCipher.generate_key(), old_key])
    second = await Database.open(db_path, cipher=rotated)
    try:
        assert (await second.audit.verify()).ok
    finally:
        await second.close()


async def test_purge_refuses_a_broken_chain(db: Database, db_path: Path, now: datetime) -> None:
    """Evidence of tampering is never purged away."""
    await fill_log(db, now, 6)
    tamper(db_path, "UPDATE audit_log SET decision = 'deny' WHERE seq = 2")
    with pytest.raises(AuditIntegrityError, match="seq 2"):
        await db.audit.purge_before(now + timedelta(seconds=4))
    assert len(await db.audit.tail(100)) == 6
