"""storage.forget at the storage level: scanning in steps, rows written meanwhile, settings."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from storage import Database, StorageError
from storage.forget import forget_user
from tests.storage.audit_helpers import sample_event

USER = "slack:T1:U1"  # sample_event's actor for i % 3 == 1


@pytest.mark.parametrize("step", [1, 2, 7, 5000], ids=["step1", "step2", "step7", "default"])
async def test_scanning_in_steps_finds_every_mention(
    db: Database, now: datetime, step: int
) -> None:
    """However the audit log is cut into scan ranges, every row naming the user is found."""
    await db.audit.append_many([sample_event(now, i) for i in range(20)])
    await db.audit.append(sample_event(now, 30, actor="x", detail={"who": [USER]}))
    result = await forget_user(db, USER, now=now, scan_step=step)
    assert result.audit_rows == 8  # i = 1, 4, ..., 19 and the detail mention
    rows = await db.audit.tail(100)
    assert all(USER not in row.to_json() for row in rows)
    assert (await db.audit.verify()).ok


async def test_rows_written_during_the_scan_are_pseudonymised_too(
    db: Database, now: datetime
) -> None:
    """Rows appended between the scan and the transaction are caught by the final pass."""
    await db.audit.append_many([sample_event(now, i) for i in range(30)])

    async def writer() -> None:
        for i in range(100, 130):
            await db.audit.append(sample_event(now, i))

    result, _ = await asyncio.gather(forget_user(db, USER, now=now, scan_step=3), writer())
    rows = await db.audit.tail(200)
    renamed = [row.seq for row in rows if row.actor == result.pseudonym]
    left = [row.seq for row in rows if row.actor == USER]
    assert len(renamed) == result.audit_rows >= 10
    assert not left or max(renamed) < min(left)  # only rows written after the forget remain
    assert (await db.audit.verify()).ok


async def test_settings_lose_entries_keyed_by_the_user(db: Database, now: datetime) -> None:
    """Settings drop the user's entries and list items; who set them becomes the pseudonym."""
    await db.settings.set("benched", [USER, "slack:T1:U2"], by=USER, now=now)
    await db.settings.set(
        "autonomy", {"users": {USER: "observe"}, "default": "ask"}, by="a", now=now
    )
    result = await forget_user(db, USER, now=now)
    assert await db.settings.get("benched") == ["slack:T1:U2"]
    assert await db.settings.get("autonomy") == {"users": {}, "default": "ask"}
    assert result.pseudonymised["settings.updated_by"] == 1
    assert result.pseudonymised["settings.value"] == 2


async def test_a_bad_scan_step_is_refused(db: Database, now: datetime) -> None:
    """A scan step below one is a caller bug."""
    with pytest.raises(ValueError, match="scan_step"):
        await forget_user(db, USER, now=now, scan_step=0)


async def test_a_closed_database_raises_storage_error(db: Database, now: datetime) -> None:
    """Forgetting on a closed database fails with StorageError, not a crash."""
    await db.close()
    with pytest.raises(StorageError):
        await forget_user(db, USER, now=now)
