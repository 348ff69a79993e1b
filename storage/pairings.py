"""Pairing requests (codes stored only as a hash) and the per-sender failed-attempt counter.

The caller hashes the code before it reaches storage; the plain code never does.
`decide` is a compare-and-set from `pending`, so two admins approving and rejecting
at once cannot both win.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage._sql import Sql
from storage._time import from_iso, maybe_from_iso, to_iso

__all__ = ["PAIRING_STATUSES", "PairingRequest", "Pairings"]

PAIRING_STATUSES = frozenset({"pending", "approved", "rejected", "expired"})
_DECISIONS = PAIRING_STATUSES - {"pending"}
_MAX_HASHES = 16  # one per data key


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingRequest:
    """A request by an unknown user to be paired."""

    id: int
    actor_key: str
    platform: str
    display_name: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    status: str  # "pending" | "approved" | "rejected" | "expired"
    decided_by: str | None
    decided_at: datetime | None


def _row(row: sqlite3.Row) -> PairingRequest:
    return PairingRequest(
        id=row["id"],
        actor_key=row["actor_key"],
        platform=row["platform"],
        display_name=row["display_name"],
        code_hash=row["code_hash"],
        created_at=from_iso(row["created_at"]),
        expires_at=from_iso(row["expires_at"]),
        status=row["status"],
        decided_by=row["decided_by"],
        decided_at=maybe_from_iso(row["decided_at"]),
    )


class Pairings:
    """Repository of pairing requests and failed pairing attempts."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def create(
        self,
        *,
        actor_key: str,
        platform: str,
        display_name: str,
        code_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> PairingRequest:
        """Record a new pending request."""
        row = await self._sql.fetchone(
            "pairings.create",
            "INSERT INTO pairing_requests (actor_key, platform, display_name, code_hash,"
            " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
            (actor_key, platform, display_name, code_hash, to_iso(now), to_iso(expires_at)),
        )
        assert row is not None
        return _row(row)

    async def get(self, request_id: int) -> PairingRequest | None:
        """The request with this id."""
        row = await self._sql.fetchone(
            "pairings.get", "SELECT * FROM pairing_requests WHERE id = ?", (request_id,)
        )
        return None if row is None else _row(row)

    async def pending_for_platform(self, platform: str, now: datetime) -> list[PairingRequest]:
        """Pending, unexpired requests on a platform, oldest first."""
        rows = await self._sql.fetchall(
            "pairings.pending",
            "SELECT * FROM pairing_requests WHERE status = 'pending' AND platform = ?"
            " AND expires_at > ? ORDER BY id",
            (platform, to_iso(now)),
        )
        return [_row(row) for row in rows]

    async def latest_for_actor(self, actor_key: str) -> PairingRequest | None:
        """The most recent request by this sender, whatever its status."""
        row = await self._sql.fetchone(
            "pairings.latest",
            "SELECT * FROM pairing_requests WHERE actor_key = ? ORDER BY id DESC LIMIT 1",
            (actor_key,),
        )
        return None if row is None else _row(row)

    async def find_pending_by_hash(self, code_hash: str, now: datetime) -> PairingRequest | None:
        """The newest pending, unexpired request whose code hashes to `code_hash`."""
        row = await self._sql.fetchone(
            "pairings.find",
            "SELECT * FROM pairing_requests WHERE code_hash = ? AND status = 'pending'"
            " AND expires_at > ? ORDER BY id DESC LIMIT 1",
            (code_hash, to_iso(now)),
        )
        return None if row is None else _row(row)

    async def find_pending_by_hashes(
        self, hashes: Sequence[str], now: datetime
    ) -> PairingRequest | None:
        """`find_pending_by_hash` for a code hashed under each data key, in one query."""
        wanted = list(dict.fromkeys(hashes))[:_MAX_HASHES]
        if not wanted:
            return None
        slots = ", ".join("?" * len(wanted))
        row = await self._sql.fetchone(
            "pairings.find",
            f"SELECT * FROM pairing_requests WHERE code_hash IN ({slots})"  # noqa: S608
            " AND status = 'pending' AND expires_at > ? ORDER BY id DESC LIMIT 1",
            (*wanted, to_iso(now)),
        )
        return None if row is None else _row(row)

    async def decide(self, request_id: int, *, status: str, by: str, now: datetime) -> bool:
        """Move a pending request to `status`; True only for the one call that did it.

        Approving a request whose time is up fails (returns False) even before `expire` ran.
        """
        if status not in _DECISIONS:
            raise ValueError(f"pairing decision must be one of {sorted(_DECISIONS)}")
        stamp = to_iso(now)
        changed = await self._sql.execute(
            "pairings.decide",
            "UPDATE pairing_requests SET status = ?, decided_by = ?, decided_at = ?"
            " WHERE id = ? AND status = 'pending' AND (? <> 'approved' OR expires_at > ?)",
            (status, by, stamp, request_id, status, stamp),
        )
        return changed == 1

    async def expire(self, now: datetime) -> int:
        """Mark every overdue pending request expired; return how many."""
        stamp = to_iso(now)
        return await self._sql.execute(
            "pairings.expire",
            "UPDATE pairing_requests SET status = 'expired', decided_by = 'system',"
            " decided_at = ? WHERE status = 'pending' AND expires_at <= ?",
            (stamp, stamp),
        )

    async def record_failure(self, sender_key: str, now: datetime) -> None:
        """Count one failed code attempt by this sender."""
        await self._sql.execute(
            "pairings.record_failure",
            "INSERT INTO pairing_failures (sender_key, at) VALUES (?, ?)",
            (sender_key, to_iso(now)),
        )

    async def failures_since(self, sender_key: str, since: datetime) -> int:
        """Failed attempts by this sender at or after `since`."""
        row = await self._sql.fetchone(
            "pairings.failures_since",
            "SELECT count(*) FROM pairing_failures WHERE sender_key = ? AND at >= ?",
            (sender_key, to_iso(since)),
        )
        return int(row[0]) if row is not None else 0

    async def clear_failures(self, sender_key: str) -> int:
        """Forget this sender's failed attempts (after a success); return how many."""
        return await self._sql.execute(
            "pairings.clear_failures",
            "DELETE FROM pairing_failures WHERE sender_key = ?",
            (sender_key,),
        )

    async def purge_failures(self, older_than: datetime) -> int:
        """Drop failed-attempt records older than `older_than` (housekeeping)."""
        return await self._sql.execute(
            "pairings.purge_failures",
            "DELETE FROM pairing_failures WHERE at < ?",
            (to_iso(older_than),),
        )
