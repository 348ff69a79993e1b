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
from storage.errors import KeyFileError

if TYPE_CHECKING:
    from storage.db import Database

__all__ = ["ForgetResult", "ParkedApproval", "forget_user"]

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


async def _audit_rows(tx: Tx, key: str, pseudonym: str) -> int:
    needle = json.dumps(key, ensure_ascii=False)
    rows = await tx.fetchall(
        "SELECT seq, actor, channel, detail FROM audit_log WHERE fmt = 2"
        " AND (actor = ?1 OR channel = ?1 OR instr(detail, ?2) > 0)",
        (key, needle),
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


async def _legacy_mentions(db: Database, key: str) -> bool:
    row = await db.sql.fetchone(
        "forget",
        "SELECT 1 FROM audit_log WHERE fmt = 1"
        " AND (actor = ?1 OR channel = ?1 OR instr(detail, ?2) > 0) LIMIT 1",
        (key, json.dumps(key, ensure_ascii=False)),
    )
    return row is not None


async def forget_user(db: Database, key: str, *, now: datetime) -> ForgetResult:
    """Delete and pseudonymise everything stored about `key` (see the module docstring).

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
    if await _legacy_mentions(db, key):
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
        audit_rows = await _audit_rows(tx, key, pseudonym)
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
