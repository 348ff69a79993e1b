"""Forgetting a user (right to erasure): delete what is theirs, pseudonymise what others keep.

    result = await forget_user(db, "telegram:telegram:42", now=now)

In one transaction:

- deleted: their identity, runtime roles, user-scope grants naming them, pairing
  requests and failed attempts, and every approval they requested (parked ones are
  cancelled by the deletion; their encrypted payloads, cards and votes go with them);
- pseudonymised (the key replaced by `forgotten:<digest>`, the same pseudonym
  everywhere): audit rows where the key is the actor, the channel, or a value or key
  inside detail;
  their runs (kept for history and budgets); the who-did-it columns of other records
  (`decided_by`, `created_by`, `updated_by`, votes, ...); values in runtime settings
  (entries keyed by them are dropped).

Audit rows of format 2 keep verifying (storage/audit_chain.py); rows of the old
format 1 that mention the user are first re-chained by `Audit.upgrade_format()`.
Afterwards the WAL is checkpointed and truncated, and with `secure_delete` on, the
old values are not left in free pages. Not covered: a key inside a longer string
(free text), and the bare platform user id where it is stored on its own (e.g. the
chat id in the card references of other people's requests sent to them).

Rows the user writes after this (they message the bot again) name them again: ban
them at the platform, or forget again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage._sql import Tx
from storage.audit_chain import PSEUDONYM_PREFIX, canonical_detail
from storage.errors import AuditIntegrityError, KeyFileError

if TYPE_CHECKING:
    from storage.db import Database

__all__ = ["ForgetResult", "ParkedApproval", "forget_user"]

_SCAN = 5000  # audit rows per scan query (the lock is released between them)
_MENTIONS = (
    "SELECT seq, fmt FROM audit_log WHERE (actor = ?1 OR channel = ?1 OR instr(detail, ?2) > 0)"
)
_BY_COLUMNS = (
    ("identities", "updated_by"),
    ("grants", "created_by"),
    ("grants", "ended_by"),
    ("roles", "added_by"),
    ("settings", "updated_by"),
    ("pairing_requests", "decided_by"),
    ("approvals", "decided_by"),
    ("approval_votes", "voter"),
    ("runs", "requester"),
)
_DELETES = (
    ("identities", "DELETE FROM identities WHERE key = ?"),
    ("roles", "DELETE FROM roles WHERE user_key = ?"),
    ("grants", "DELETE FROM grants WHERE scope = 'user' AND subject = ?"),
    ("pairing_requests", "DELETE FROM pairing_requests WHERE actor_key = ?"),
    ("pairing_failures", "DELETE FROM pairing_failures WHERE sender_key = ?"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParkedApproval:
    """A pending or approved request of the forgotten user, now cancelled and deleted."""

    public_id: str
    status: str
    card_refs: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgetResult:
    """What `forget_user` did; counts by table."""

    pseudonym: str
    deleted: dict[str, int]
    pseudonymised: dict[str, int]
    cancelled: tuple[ParkedApproval, ...]
    audit_rows: int
    wal_truncated: bool


def _needle(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)  # how the key appears inside canonical detail


def _scrub(value: Any, key: str, pseudonym: str) -> Any:
    if isinstance(value, str):
        return pseudonym if value == key else value
    if isinstance(value, dict):
        return {k: _scrub(v, key, pseudonym) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [_scrub(v, key, pseudonym) for v in value if v != key]
    return value


def _replace_leaves(value: Any, key: str, pseudonym: str) -> Any:
    if isinstance(value, str):
        return pseudonym if value == key else value
    if isinstance(value, dict):
        return {
            (pseudonym if k == key else k): _replace_leaves(v, key, pseudonym)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_replace_leaves(v, key, pseudonym) for v in value]
    return value


async def _cancel_approvals(tx: Tx, key: str) -> tuple[tuple[ParkedApproval, ...], int]:
    parked = await tx.fetchall(
        "SELECT id, public_id, status FROM approvals WHERE requester = ?"
        " AND status IN ('pending', 'approved') ORDER BY id",
        (key,),
    )
    cancelled: list[ParkedApproval] = []
    for row in parked:
        refs = await tx.fetchall(
            "SELECT ref_json FROM approval_cards WHERE approval_id = ? ORDER BY id", (row[0],)
        )
        cancelled.append(
            ParkedApproval(
                public_id=str(row[1]),
                status=str(row[2]),
                card_refs=tuple(str(r[0]) for r in refs),
            )
        )
    deleted = await tx.execute("DELETE FROM approvals WHERE requester = ?", (key,))
    return tuple(cancelled), deleted


async def _settings(tx: Tx, key: str, pseudonym: str) -> int:
    changed = 0
    for row in await tx.fetchall("SELECT key, value FROM settings"):
        before = json.loads(row[1])
        after = _scrub(before, key, pseudonym)
        if after != before:
            text = json.dumps(after, sort_keys=True, allow_nan=False)
            changed += await tx.execute(
                "UPDATE settings SET value = ? WHERE key = ?", (text, row[0])
            )
    return changed


async def _scan(db: Database, key: str, step: int) -> tuple[list[int], bool, int]:
    """Seqs of audit rows that mention `key`, whether any is fmt 1, and the last seq scanned.

    Scans in seq ranges, one short query each, so the bot is not paused by a long scan.
    """
    found: list[int] = []
    legacy = False
    span = await db.sql.fetchone("forget.scan", "SELECT min(seq), max(seq) FROM audit_log")
    if span is None or span[0] is None:
        return found, legacy, 0
    last, end = int(span[0]) - 1, int(span[1])
    while last < end:
        rows = await db.sql.fetchall("forget.scan", _MENTIONS + " AND seq > ?3 AND seq <= ?4",
                                     (key, _needle(key), last, last + step))  # fmt: skip
        found.extend(int(row[0]) for row in rows)
        legacy = legacy or any(int(row[1]) == 1 for row in rows)
        last += step
    return found, legacy, end


async def _audit_rows(tx: Tx, key: str, pseudonym: str, seqs: list[int], scanned: int) -> int:
    rows = await tx.fetchall(
        "SELECT seq, actor, channel, detail, fmt FROM audit_log"
        " WHERE (actor = ?1 OR channel = ?1 OR instr(detail, ?2) > 0) AND seq > ?3",
        (key, _needle(key), scanned),
    )  # rows appended since the scan
    for i in range(0, len(seqs), _SCAN):
        chunk = seqs[i : i + _SCAN]
        rows += await tx.fetchall(
            "SELECT seq, actor, channel, detail, fmt FROM audit_log"  # noqa: S608 - only slots
            f" WHERE seq IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
    if any(int(row[4]) != 2 for row in rows):
        raise AuditIntegrityError(
            "forget: old-format rows appeared; not pseudonymising", op="forget"
        )
    for row in rows:
        detail = canonical_detail(_replace_leaves(json.loads(row[3]), key, pseudonym))
        await tx.execute(
            "UPDATE audit_log SET actor = ?, channel = ?, detail = ? WHERE seq = ?",
            (
                pseudonym if row[1] == key else row[1],
                pseudonym if row[2] == key else row[2],
                detail,
                row[0],
            ),
        )
    return len(rows)


async def forget_user(
    db: Database, key: str, *, now: datetime, scan_step: int = _SCAN
) -> ForgetResult:
    """Delete and pseudonymise everything stored about `key` (see the module docstring).

    The audit log is scanned `scan_step` rows per query before the one transaction
    that makes every change.

    Raises KeyFileError when the pseudonym key is unavailable (no or the wrong data key),
    and AuditIntegrityError when old-format rows mention the user and the chain does
    not verify (evidence is not rewritten).
    """
    digester = db.audit.digester
    if digester is None or db.cipher is None:
        raise KeyFileError("forget: the data key is needed to pseudonymise", op="forget")
    if not key or key.startswith(PSEUDONYM_PREFIX):
        raise ValueError("forget: not a user key")
    pseudonym = digester.pseudonym(key)
    if scan_step < 1:
        raise ValueError("scan_step must be at least 1")
    seqs, legacy, scanned = await _scan(db, key, scan_step)
    if legacy:
        await db.audit.upgrade_format(now=now)
    deleted: dict[str, int] = {}
    renamed: dict[str, int] = {}
    async with db.sql.transaction("forget") as tx:
        cancelled, deleted["approvals"] = await _cancel_approvals(tx, key)
        for table, statement in _DELETES:
            deleted[table] = await tx.execute(statement, (key,))
        for table, column in _BY_COLUMNS:
            count = await tx.execute(
                f"UPDATE {table} SET {column} = ? WHERE {column} = ?",  # noqa: S608 - fixed names
                (pseudonym, key),
            )
            if count:
                renamed[f"{table}.{column}"] = count
        renamed["settings.value"] = await _settings(tx, key, pseudonym)
        audit_rows = await _audit_rows(tx, key, pseudonym, seqs, scanned)
    truncated = await checkpoint_wal(db)
    return ForgetResult(
        pseudonym=pseudonym,
        deleted=deleted,
        pseudonymised={k: v for k, v in renamed.items() if v},
        cancelled=cancelled,
        audit_rows=audit_rows,
        wal_truncated=truncated,
    )


async def checkpoint_wal(db: Database) -> bool:
    """Copy the WAL into the main file and truncate it; False if a reader kept it busy."""
    row = await db.sql.fetchone("wal_checkpoint", "PRAGMA wal_checkpoint(TRUNCATE)")
    return row is not None and int(row[0]) == 0
