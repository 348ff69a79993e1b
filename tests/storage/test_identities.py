"""Identities: upsert, status changes, listing and deletion."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from storage import ConstraintError, Database


async def _add(db: Database, now: datetime, user: str, status: str = "paired") -> None:
    await db.identities.upsert(
        f"slack:T1:{user}",
        platform="slack",
        tenant="T1",
        user_id=user,
        display_name=user.lower(),
        status=status,
        now=now,
        by="slack:T1:ADMIN",
    )


async def test_upsert_then_get(db: Database, now: datetime) -> None:
    """A new identity is stored with its creation and update stamps."""
    await _add(db, now, "U1")
    found = await db.identities.get("slack:T1:U1")
    assert found is not None
    assert (found.platform, found.tenant, found.user_id, found.status) == (
        "slack",
        "T1",
        "U1",
        "paired",
    )
    assert found.created_at == found.updated_at == now
    assert found.updated_by == "slack:T1:ADMIN"
    assert await db.identities.get("slack:T1:nobody") is None


async def test_upsert_updates_but_keeps_created_at(db: Database, now: datetime) -> None:
    """Upserting again changes fields and updated_at, not created_at."""
    await _add(db, now, "U1")
    later = now + timedelta(hours=1)
    updated = await db.identities.upsert(
        "slack:T1:U1",
        platform="slack",
        tenant="T1",
        user_id="U1",
        display_name="new name",
        status="banned",
        now=later,
        by="b",
    )
    assert (updated.display_name, updated.status, updated.created_at, updated.updated_at) == (
        "new name",
        "banned",
        now,
        later,
    )


async def test_same_triple_under_another_key_is_refused(db: Database, now: datetime) -> None:
    """(platform, tenant, user_id) is unique: one person cannot hold two keys."""
    await _add(db, now, "U1")
    with pytest.raises(ConstraintError):
        await db.identities.upsert(
            "other-key",
            platform="slack",
            tenant="T1",
            user_id="U1",
            display_name="",
            status="paired",
            now=now,
            by="x",
        )


async def test_set_status_list_and_delete(db: Database, now: datetime) -> None:
    """Status changes are reflected in filtered listings; delete forgets the identity."""
    for user in ("U1", "U2", "U3"):
        await _add(db, now, user)
    assert await db.identities.set_status("slack:T1:U2", "banned", now=now, by="a") is True
    assert await db.identities.set_status("slack:T1:missing", "banned", now=now, by="a") is False
    assert [i.user_id for i in await db.identities.list("paired")] == ["U1", "U3"]
    assert [i.user_id for i in await db.identities.list("banned")] == ["U2"]
    assert len(await db.identities.list()) == 3
    assert await db.identities.delete("slack:T1:U1") is True
    assert await db.identities.delete("slack:T1:U1") is False
    assert [i.user_id for i in await db.identities.list()] == ["U2", "U3"]


@pytest.mark.parametrize("status", ["admin", "", "PAIRED"], ids=["admin", "empty", "upper"])
async def test_unknown_status_is_refused(db: Database, now: datetime, status: str) -> None:
    """Only paired and banned are statuses."""
    with pytest.raises(ValueError, match="status"):
        await _add(db, now, "U1", status)
