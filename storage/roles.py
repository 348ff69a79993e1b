"""Roles granted at runtime (admin, approver), in addition to those in config."""

from __future__ import annotations

from datetime import datetime

from storage._sql import Sql
from storage._time import to_iso

__all__ = ["ROLES", "Roles"]

ROLES = frozenset({"admin", "approver"})


class Roles:
    """Repository of (user_key, role) pairs."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def add(self, user_key: str, role: str, *, by: str, now: datetime) -> bool:
        """Give `user_key` a role; False if they already had it."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {sorted(ROLES)}")
        changed = await self._sql.execute(
            "roles.add",
            "INSERT OR IGNORE INTO roles (user_key, role, added_by, added_at) VALUES (?, ?, ?, ?)",
            (user_key, role, by, to_iso(now)),
        )
        return changed == 1

    async def remove(self, user_key: str, role: str) -> bool:
        """Take a role away; False if they did not have it."""
        changed = await self._sql.execute(
            "roles.remove",
            "DELETE FROM roles WHERE user_key = ? AND role = ?",
            (user_key, role),
        )
        return changed == 1

    async def list(self) -> list[tuple[str, str]]:
        """Every (user_key, role), sorted."""
        rows = await self._sql.fetchall(
            "roles.list", "SELECT user_key, role FROM roles ORDER BY user_key, role"
        )
        return [(str(row[0]), str(row[1])) for row in rows]

    async def of(self, user_key: str) -> set[str]:
        """The runtime roles one user holds."""
        rows = await self._sql.fetchall(
            "roles.of", "SELECT role FROM roles WHERE user_key = ?", (user_key,)
        )
        return {str(row[0]) for row in rows}
