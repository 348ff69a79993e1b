"""Approvals: requests parked until an approver taps Approve or Deny.

Every status change is a single compare-and-set `UPDATE ... WHERE id = ? AND status = ?`,
so with concurrent taps, duplicate deliveries or two processes exactly one transition
wins and the caller learns whether it was this one:

    pending --decide--> approved | denied | expired | cancelled
    approved --mark_executed--> executed          (so a request runs at most once)
    approved --withdraw--> cancelled              (its last check before the run failed)

The parked request (`payload`) is encrypted here with the database's FieldCipher: pass
plaintext bytes to `create`, read plaintext from `Approval.payload`. Without a cipher,
creating or reading an approval raises StorageError (fail closed, never plaintext at rest).
Only token *hashes* are stored; the caller hashes the button token before lookup.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage._sql import Sql
from storage._time import from_iso, maybe_from_iso, maybe_to_iso, to_iso
from storage.crypto import FieldCipher
from storage.errors import KeyFileError

__all__ = ["APPROVAL_STATUSES", "Approval", "Approvals"]

APPROVAL_STATUSES = frozenset({"pending", "approved", "denied", "expired", "cancelled", "executed"})
_DECISIONS = frozenset({"approved", "denied", "expired", "cancelled"})
_MAX_HASHES = 16  # one per data key; more is a caller bug, not a reason to build huge SQL


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """A parked request and its decision state (payload already decrypted)."""

    id: int
    public_id: str
    request_hash: str
    payload: bytes
    requester: str
    tool: str
    risk: int
    kind: str  # "run" | "pairing"
    approve_token_hash: str
    deny_token_hash: str
    channel_key: str
    admin_required: bool
    created_at: datetime
    expires_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str
    run_id: str | None
    executed_at: datetime | None


class Approvals:
    """Repository of approvals, their card references and approver votes."""

    def __init__(self, sql: Sql, cipher: FieldCipher | None) -> None:
        self._sql = sql
        self._cipher = cipher

    def use_cipher(self, cipher: FieldCipher) -> None:
        """Encrypt with `cipher`'s newest key from now on (and decrypt with any of its keys)."""
        self._cipher = cipher

    def _need_cipher(self, op: str) -> FieldCipher:
        if self._cipher is None:
            raise KeyFileError(f"{op}: no data key configured for approvals", op=op)
        return self._cipher

    def _row(self, row: sqlite3.Row) -> Approval:
        return Approval(
            id=row["id"],
            public_id=row["public_id"],
            request_hash=row["request_hash"],
            payload=self._need_cipher("approvals.read").decrypt(row["payload"]),
            requester=row["requester"],
            tool=row["tool"],
            risk=row["risk"],
            kind=row["kind"],
            approve_token_hash=row["approve_token_hash"],
            deny_token_hash=row["deny_token_hash"],
            channel_key=row["channel_key"],
            admin_required=bool(row["admin_required"]),
            created_at=from_iso(row["created_at"]),
            expires_at=from_iso(row["expires_at"]),
            status=row["status"],
            decided_by=row["decided_by"],
            decided_at=maybe_from_iso(row["decided_at"]),
            reason=row["reason"],
            run_id=row["run_id"],
            executed_at=maybe_from_iso(row["executed_at"]),
        )

    async def create(
        self,
        *,
        public_id: str,
        request_hash: str,
        payload: bytes,
        requester: str,
        tool: str,
        risk: int,
        kind: Literal["run", "pairing"],
        approve_token_hash: str,
        deny_token_hash: str,
        created_at: datetime,
        expires_at: datetime,
        channel_key: str,
        admin_required: bool,
    ) -> Approval:
        """Park a request (payload is plaintext; it is encrypted before it is stored)."""
        sealed = self._need_cipher("approvals.create").encrypt(payload)
        row = await self._sql.fetchone(
            "approvals.create",
            "INSERT INTO approvals (public_id, request_hash, payload, requester, tool, risk,"
            " kind, approve_token_hash, deny_token_hash, channel_key, admin_required,"
            " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (
                public_id,
                request_hash,
                sealed,
                requester,
                tool,
                int(risk),
                kind,
                approve_token_hash,
                deny_token_hash,
                channel_key,
                int(admin_required),
                to_iso(created_at),
                to_iso(expires_at),
            ),
        )
        assert row is not None
        return self._row(row)

    async def get(self, approval_id: int) -> Approval | None:
        """The approval with this id."""
        row = await self._sql.fetchone(
            "approvals.get", "SELECT * FROM approvals WHERE id = ?", (approval_id,)
        )
        return None if row is None else self._row(row)

    async def get_by_public_id(self, public_id: str) -> Approval | None:
        """The approval with this public id (the one shown to people)."""
        row = await self._sql.fetchone(
            "approvals.get_by_public_id",
            "SELECT * FROM approvals WHERE public_id = ?",
            (public_id,),
        )
        return None if row is None else self._row(row)

    async def find_by_token_hash(
        self, token_hash: str
    ) -> tuple[Approval, Literal["approve", "deny"]] | None:
        """The approval whose approve or deny token hashes to `token_hash`, and which one."""
        row = await self._sql.fetchone(
            "approvals.find_by_token",
            "SELECT * FROM approvals WHERE approve_token_hash = ?1 OR deny_token_hash = ?1",
            (token_hash,),
        )
        if row is None:
            return None
        action: Literal["approve", "deny"] = (
            "approve" if row["approve_token_hash"] == token_hash else "deny"
        )
        return self._row(row), action

    async def find_by_token_hashes(
        self, hashes: Sequence[str]
    ) -> tuple[Approval, Literal["approve", "deny"]] | None:
        """Like `find_by_token_hash`, for a token hashed under each data key (one query).

        After a key rotation a button token is hashed under every key, newest first;
        the hashes are 256-bit, so at most one approval can match.
        """
        wanted = list(dict.fromkeys(hashes))[:_MAX_HASHES]
        if not wanted:
            return None
        slots = ", ".join("?" * len(wanted))
        row = await self._sql.fetchone(
            "approvals.find_by_token",
            f"SELECT * FROM approvals WHERE approve_token_hash IN ({slots})"  # noqa: S608
            f" OR deny_token_hash IN ({slots}) ORDER BY id LIMIT 1",
            (*wanted, *wanted),
        )
        if row is None:
            return None
        action: Literal["approve", "deny"] = (
            "approve" if row["approve_token_hash"] in wanted else "deny"
        )
        return self._row(row), action

    async def decide(
        self, approval_id: int, *, to_status: str, by: str, now: datetime, reason: str = ""
    ) -> bool:
        """Move a pending approval to `to_status`; True only for the one call that won.

        Approving fails (returns False) once `expires_at` has passed, even if the expiry
        job has not yet run.
        """
        if to_status not in _DECISIONS:
            raise ValueError(f"approval decision must be one of {sorted(_DECISIONS)}")
        stamp = to_iso(now)
        changed = await self._sql.execute(
            "approvals.decide",
            "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, reason = ?"
            " WHERE id = ? AND status = 'pending' AND (? <> 'approved' OR expires_at > ?)",
            (to_status, by, stamp, reason, approval_id, to_status, stamp),
        )
        return changed == 1

    async def withdraw(self, approval_id: int, *, reason: str) -> bool:
        """Cancel an approved request that has not run (its last check failed); True for the one call that won.

        Who approved it stays recorded; `reason` says why it was withdrawn.
        """
        changed = await self._sql.execute(
            "approvals.withdraw",
            "UPDATE approvals SET status = 'cancelled', reason = ?"
            " WHERE id = ? AND status = 'approved'",
            (reason, approval_id),
        )
        return changed == 1

    async def pending(self, now: datetime | None = None) -> list[Approval]:
        """Pending approvals, oldest first (only unexpired ones when `now` is given)."""
        if now is None:
            rows = await self._sql.fetchall(
                "approvals.pending", "SELECT * FROM approvals WHERE status = 'pending' ORDER BY id"
            )
        else:
            rows = await self._sql.fetchall(
                "approvals.pending",
                "SELECT * FROM approvals WHERE status = 'pending' AND expires_at > ? ORDER BY id",
                (to_iso(now),),
            )
        return [self._row(row) for row in rows]

    async def expire_due(self, now: datetime) -> list[Approval]:
        """Atomically move every overdue pending approval to expired; return those moved."""
        stamp = to_iso(now)
        rows = await self._sql.fetchall(
            "approvals.expire_due",
            "UPDATE approvals SET status = 'expired', decided_by = 'system', decided_at = ?,"
            " reason = 'expired' WHERE status = 'pending' AND expires_at <= ? RETURNING *",
            (stamp, stamp),
        )
        return sorted((self._row(row) for row in rows), key=lambda a: a.id)

    async def mark_executed(
        self, approval_id: int, run_id: str, *, now: datetime | None = None
    ) -> bool:
        """Claim an approved request for execution; True for exactly one caller, ever."""
        changed = await self._sql.execute(
            "approvals.mark_executed",
            "UPDATE approvals SET status = 'executed', run_id = ?, executed_at = ?"
            " WHERE id = ? AND status = 'approved'",
            (run_id, maybe_to_iso(now), approval_id),
        )
        return changed == 1

    async def purge(self, older_than: datetime) -> int:
        """Delete settled approvals (not pending or approved) created before `older_than`.

        Their encrypted payloads, card references and votes go with them; runs keep
        their history with the link cleared. Returns how many approvals were deleted.
        """
        return await self._sql.execute(
            "approvals.purge",
            "DELETE FROM approvals WHERE created_at < ?"
            " AND status IN ('denied', 'expired', 'cancelled', 'executed')",
            (to_iso(older_than),),
        )

    async def add_card_ref(self, approval_id: int, ref_json: str) -> None:
        """Remember a platform message that shows this approval's card."""
        await self._sql.execute(
            "approvals.add_card_ref",
            "INSERT INTO approval_cards (approval_id, ref_json) VALUES (?, ?)",
            (approval_id, ref_json),
        )

    async def card_refs(self, approval_id: int) -> list[str]:
        """Every card reference recorded for this approval, in the order added."""
        rows = await self._sql.fetchall(
            "approvals.card_refs",
            "SELECT ref_json FROM approval_cards WHERE approval_id = ? ORDER BY id",
            (approval_id,),
        )
        return [str(row[0]) for row in rows]

    async def add_vote(self, approval_id: int, voter: str, now: datetime) -> int:
        """Record an approver's vote (idempotent per voter); return the distinct voter count.

        For a two-person rule: call this on each Approve tap and `decide` only once the
        count reaches two (the requester's own vote should be refused by the caller).
        """
        async with self._sql.transaction("approvals.add_vote") as tx:
            await tx.execute(
                "INSERT OR IGNORE INTO approval_votes (approval_id, voter, at) VALUES (?, ?, ?)",
                (approval_id, voter, to_iso(now)),
            )
            row = await tx.fetchone(
                "SELECT count(*) FROM approval_votes WHERE approval_id = ?", (approval_id,)
            )
        return int(row[0]) if row is not None else 0

    async def votes(self, approval_id: int) -> list[str]:
        """Who has voted to approve, in order."""
        rows = await self._sql.fetchall(
            "approvals.votes",
            "SELECT voter FROM approval_votes WHERE approval_id = ? ORDER BY at, voter",
            (approval_id,),
        )
        return [str(row[0]) for row in rows]
