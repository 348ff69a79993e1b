"""Settings changed at runtime (autonomy overrides, lockdown flag, paused tools): key -> JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage._sql import Sql
from storage._time import to_iso
from storage.errors import StorageError

__all__ = ["Settings"]


class Settings:
    """Repository of small JSON values by key."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def get(self, key: str) -> Any | None:
        """The stored value, or None if unset."""
        row = await self._sql.fetchone(
            "settings.get", "SELECT value FROM settings WHERE key = ?", (key,)
        )
        return None if row is None else json.loads(row[0])

    async def set(self, key: str, value: Any, *, by: str, now: datetime) -> None:
        """Store a JSON-serialisable value (StorageError if it is not)."""
        try:
            text = json.dumps(value, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError):
            raise StorageError(
                "setting value is not JSON-serialisable", op="settings.set", code="value"
            ) from None
        await self._sql.execute(
            "settings.set",
            "INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            (key, text, by, to_iso(now)),
        )

    async def delete(self, key: str) -> bool:
        """Unset a key; False if it was not set."""
        return (
            await self._sql.execute("settings.delete", "DELETE FROM settings WHERE key = ?", (key,))
            == 1
        )

    async def all(self) -> dict[str, Any]:
        """Every setting."""
        rows = await self._sql.fetchall(
            "settings.all", "SELECT key, value FROM settings ORDER BY key"
        )
        return {str(row[0]): json.loads(row[1]) for row in rows}
