"""Identities: the people the bot knows (paired) or has shut out (banned).

The key is the namespaced identity `platform:tenant:user_id` (`Actor.key`); the
display name is for show only and never authorizes anything.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage._sql import Sql
from storage._time import from_iso, to_iso

__all__ = ["IDENTITY_STATUSES", "Identities", "Identity"]

IDENTITY_STATUSES = frozenset({"paired", "banned"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A known user."""

    key: str
    platform: str
    tenant: str
    user_id: str
    display_name: str
    status: str  # "paired" | "banned"
    created_at: datetime
    updated_at: datetime
    updated_by: str


def _status(status: str) -> str:
    if status not in IDENTITY_STATUSES:
        raise ValueError(f"identity status must be one of {sorted(IDENTITY_STATUSES)}")
    return status


def _row(row: sqlite3.Row) -> Identity:
    return Identity(
        key=row["key"],
        platform=row["platform"],
        tenant=row["tenant"],
        user_id=row["user_id"],
        display_name=row["display_name"],
        status=row["status"],
        created_at=from_iso(row["created_at"]),
        updated_at=from_iso(row["updated_at"]),
        updated_by=row["updated_by"],
    )


class Identities:
    """Repository of identities."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def upsert(
        self,
        key: str,
        *,
        platform: str,
        tenant: str,
        user_id: str,
        display_name: str,
        status: str,
        now: datetime,
        by: str,
    ) -> Identity:
        """Insert or update an identity (created_at is kept on update); return it."""
        stamp = to_iso(now)
        row = await self._sql.fetchone(
            "identities.upsert",
            "INSERT INTO identities (key, platform, tenant, user_id, display_name, status,"
            " created_at, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET platform = excluded.platform,"
            " tenant = excluded.tenant, user_id = excluded.user_id,"
            " display_name = excluded.display_name, status = excluded.status,"
            " updated_at = excluded.updated_at, updated_by = excluded.updated_by RETURNING *",
            (key, platform, tenant, user_id, display_name, _status(status), stamp, stamp, by),
        )
        assert row is not None  # RETURNING always yields the upserted row
        return _row(row)

    async def get(self, key: str) -> Identity | None:
        """The identity with this key, if known."""
        row = await self._sql.fetchone(
            "identities.get", "SELECT * FROM identities WHERE key = ?", (key,)
        )
        return None if row is None else _row(row)

    async def set_status(self, key: str, status: str, *, now: datetime, by: str) -> bool:
        """Change an identity's status; False if the key is unknown."""
        changed = await self._sql.execute(
            "identities.set_status",
            "UPDATE identities SET status = ?, updated_at = ?, updated_by = ? WHERE key = ?",
            (_status(status), to_iso(now), by, key),
        )
        return changed == 1

    async def list(self, status: str | None = None) -> list[Identity]:
        """All identities (optionally only those with `status`), ordered by key."""
        if status is None:
            rows = await self._sql.fetchall(
                "identities.list", "SELECT * FROM identities ORDER BY key"
            )
        else:
            rows = await self._sql.fetchall(
                "identities.list",
                "SELECT * FROM identities WHERE status = ? ORDER BY key",
                (_status(status),),
            )
        return [_row(row) for row in rows]

    async def delete(self, key: str) -> bool:
        """Forget an identity; False if it was not known."""
        return (
            await self._sql.execute(
                "identities.delete", "DELETE FROM identities WHERE key = ?", (key,)
            )
            == 1
        )
