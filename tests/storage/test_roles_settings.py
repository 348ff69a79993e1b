"""Runtime roles and the JSON settings store."""

from __future__ import annotations

from datetime import datetime

import pytest

from storage import Database, StorageError


async def test_roles_add_list_remove(db: Database, now: datetime) -> None:
    """Roles are added once, listed sorted, and removed."""
    assert await db.roles.add("u2", "approver", by="a", now=now) is True
    assert await db.roles.add("u1", "admin", by="a", now=now) is True
    assert await db.roles.add("u1", "admin", by="a", now=now) is False
    assert await db.roles.add("u1", "approver", by="a", now=now) is True
    assert await db.roles.list() == [("u1", "admin"), ("u1", "approver"), ("u2", "approver")]
    assert await db.roles.of("u1") == {"admin", "approver"}
    assert await db.roles.remove("u1", "admin") is True
    assert await db.roles.remove("u1", "admin") is False
    assert await db.roles.of("u1") == {"approver"}


async def test_unknown_role_is_refused(db: Database, now: datetime) -> None:
    """Only admin and approver exist."""
    with pytest.raises(ValueError, match="role"):
        await db.roles.add("u1", "root", by="a", now=now)


VALUES = [
    ("bool", True),
    ("int", 3),
    ("str", "high"),
    ("dict", {"user:slack:T:U": 2, "nested": {"a": [1, None]}}),
    ("list", ["a", "b"]),
]


@pytest.mark.parametrize("value", [v[1] for v in VALUES], ids=[v[0] for v in VALUES])
async def test_settings_round_trip(db: Database, now: datetime, value: object) -> None:
    """JSON values come back equal; setting again overwrites."""
    assert await db.settings.get("k") is None
    await db.settings.set("k", value, by="a", now=now)
    assert await db.settings.get("k") == value
    await db.settings.set("k", "other", by="a", now=now)
    assert await db.settings.get("k") == "other"
    assert await db.settings.all() == {"k": "other"}
    assert await db.settings.delete("k") is True
    assert await db.settings.get("k") is None


async def test_settings_refuse_non_json(db: Database, now: datetime) -> None:
    """A value that is not JSON is refused with StorageError, and nothing is stored."""
    with pytest.raises(StorageError, match="JSON"):
        await db.settings.set("k", {1, 2}, by="a", now=now)
    with pytest.raises(StorageError, match="JSON"):
        await db.settings.set("k", float("nan"), by="a", now=now)
    assert await db.settings.get("k") is None
