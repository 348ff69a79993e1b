"""Grants: permission changes made at runtime by admins, on top of config.

A grant allows or denies one tool (or `*`) for a subject at a scope (`user`,
`channel`, `group`, `global`), optionally until `expires_at`. Revoked and expired
grants stay in the table (with who ended them and when) for the record.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage._sql import Sql
from storage._time import from_iso, maybe_from_iso, maybe_to_iso, to_iso

__all__ = ["GRANT_EFFECTS", "GRANT_SCOPES", "Grant", "Grants"]

GRANT_SCOPES = frozenset({"user", "channel", "group", "global"})
GRANT_EFFECTS = frozenset({"allow", "deny"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """A runtime allow/deny rule."""

    id: int
    scope: str
    subject: str
    tool: str
    effect: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    ended: str | None  # None while live, else "revoked" | "expired"
    ended_by: str | None
    ended_at: datetime | None


def _row(row: sqlite3.Row) -> Grant:
    return Grant(
        id=row["id"],
        scope=row["scope"],
        subject=row["subject"],
        tool=row["tool"],
        effect=row["effect"],
        reason=row["reason"],
        created_by=row["created_by"],
        created_at=from_iso(row["created_at"]),
        expires_at=maybe_from_iso(row["expires_at"]),
        ended=row["ended"],
        ended_by=row["ended_by"],
        ended_at=maybe_from_iso(row["ended_at"]),
    )


class Grants:
    """Repository of grants."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def add(
        self,
        *,
        scope: str,
        subject: str,
        tool: str,
        effect: str,
        by: str,
        now: datetime,
        expires_at: datetime | None = None,
        reason: str = "",
    ) -> Grant:
        """Record a new live grant."""
        if scope not in GRANT_SCOPES:
            raise ValueError(f"grant scope must be one of {sorted(GRANT_SCOPES)}")
        if effect not in GRANT_EFFECTS:
            raise ValueError(f"grant effect must be one of {sorted(GRANT_EFFECTS)}")
        row = await self._sql.fetchone(
            "grants.add",
            "INSERT INTO grants (scope, subject, tool, effect, reason, created_by, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (scope, subject, tool, effect, reason, by, to_iso(now), maybe_to_iso(expires_at)),
        )
        assert row is not None
        return _row(row)

    async def active(self, now: datetime) -> list[Grant]:
        """Grants live at `now` (not ended, not past expiry), oldest first."""
        rows = await self._sql.fetchall(
            "grants.active",
            "SELECT * FROM grants WHERE ended IS NULL AND (expires_at IS NULL OR expires_at > ?)"
            " ORDER BY id",
            (to_iso(now),),
        )
        return [_row(row) for row in rows]

    async def history(self, limit: int = 100) -> list[Grant]:
        """The most recent grants, live or ended, newest first."""
        rows = await self._sql.fetchall(
            "grants.history", "SELECT * FROM grants ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_row(row) for row in rows]

    async def revoke(self, target: int | tuple[str, str, str], *, by: str, now: datetime) -> int:
        """End a grant by id, or every live grant for (scope, subject, tool); return how many."""
        if isinstance(target, int):
            return await self._sql.execute(
                "grants.revoke",
                "UPDATE grants SET ended = 'revoked', ended_by = ?, ended_at = ?"
                " WHERE ended IS NULL AND id = ?",
                (by, to_iso(now), target),
            )
        scope, subject, tool = target
        return await self._sql.execute(
            "grants.revoke",
            "UPDATE grants SET ended = 'revoked', ended_by = ?, ended_at = ?"
            " WHERE ended IS NULL AND scope = ? AND subject = ? AND tool = ?",
            (by, to_iso(now), scope, subject, tool),
        )

    async def expire(self, now: datetime) -> int:
        """Mark live grants past their expiry as expired; return how many."""
        stamp = to_iso(now)
        return await self._sql.execute(
            "grants.expire",
            "UPDATE grants SET ended = 'expired', ended_by = 'system', ended_at = ?"
            " WHERE ended IS NULL AND expires_at IS NOT NULL AND expires_at <= ?",
            (stamp, stamp),
        )
