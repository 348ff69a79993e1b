"""Idempotency keys: platform event ids already handled, so retries are dropped.

`claim` is one `INSERT OR IGNORE`: among any number of concurrent or repeated calls
with the same key, exactly the first returns True.
"""

from __future__ import annotations

from datetime import datetime

from storage._sql import Sql
from storage._time import to_iso

__all__ = ["Idempotency"]


class Idempotency:
    """Repository of seen keys."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def claim(self, key: str, now: datetime) -> bool:
        """True the first time `key` is seen, False ever after (until purged)."""
        changed = await self._sql.execute(
            "idempotency.claim",
            "INSERT OR IGNORE INTO idempotency (key, seen_at) VALUES (?, ?)",
            (key, to_iso(now)),
        )
        return changed == 1

    async def purge(self, older_than: datetime) -> int:
        """Forget keys first seen before `older_than`; return how many."""
        return await self._sql.execute(
            "idempotency.purge",
            "DELETE FROM idempotency WHERE seen_at < ?",
            (to_iso(older_than),),
        )
