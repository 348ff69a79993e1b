"""Re-chaining old-format audit rows (fmt 1) into fmt 2, so that they can be pseudonymised.

Rows written before migration 0003 hash the clear actor, channel and detail; they
verify as they are, but a user named in them cannot be forgotten without breaking
the chain. `upgrade_format` re-hashes them (and, because every later row's prev_hash
changes with them, the rest of the chain) in fmt 2, in one transaction, only after
the whole chain verified, and re-signs the anchor at the new head. The stored values
do not change; only prev_hash, hash and fmt do. The caller records the old head hash
in an audit row (`Audit.upgrade_format` does), so a hash kept elsewhere can still be
related to the new chain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.audit_chain import GENESIS_HASH, AuditEvent, row_hash_v2, seal

__all__ = ["Upgrade", "rechain", "upgrade_event"]

_BATCH = 1000
_SELECT = (
    "SELECT seq, ts, event_id, stage, actor, channel, tool, decision, reason, detail,"
    " args_hash, latency_ms, hash FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Upgrade:
    """What `rechain` did: rows re-hashed, and the head before and after."""

    rows: int
    head_seq: int
    old_head_hash: str
    new_head_hash: str


def rechain(
    conn: sqlite3.Connection, mac_keys: Sequence[bytes], digest: Callable[[str], str]
) -> Upgrade | None:
    """Re-hash every row from the first fmt 1 row on; None if there is none.

    The caller has verified the chain and holds a write transaction on `conn` (the
    audit writer's; the anchor moves in it). Rows are updated in seq order, so each
    new prev_hash is the already re-hashed previous row's hash.
    """
    first = conn.execute("SELECT min(seq) FROM audit_log WHERE fmt = 1").fetchone()
    if first is None or first[0] is None:
        return None
    start = int(first[0]) - 1
    before = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (start,)).fetchone()
    if before is not None:
        prev = str(before[0])
    else:
        point = conn.execute("SELECT seq, hash FROM audit_checkpoint WHERE id = 1").fetchone()
        prev = str(point[1]) if point is not None and int(point[0]) == start else GENESIS_HASH
    seq, rows, old_head = start, 0, prev
    while True:
        batch = conn.execute(_SELECT, (seq, _BATCH)).fetchall()
        for row in batch:
            digest_now = row_hash_v2(tuple(row[i] for i in range(12)), prev, digest)
            conn.execute(
                "UPDATE audit_log SET prev_hash = ?, hash = ?, fmt = 2 WHERE seq = ?",
                (prev, digest_now, row[0]),
            )
            seq, prev, old_head = int(row[0]), digest_now, str(row[12])
            rows += 1
        if len(batch) < _BATCH:
            break
    mac = seal(mac_keys[0], "anchor", seq, prev) if mac_keys else ""
    conn.execute(
        "INSERT INTO audit_anchor (id, seq, hash, mac) VALUES (1, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
        " mac = excluded.mac",
        (seq, prev, mac),
    )
    return Upgrade(rows=rows, head_seq=seq, old_head_hash=old_head, new_head_hash=prev)


def upgrade_event(done: Upgrade, now: datetime) -> AuditEvent:
    """The audit row that records a re-chaining (old and new head hash)."""
    return AuditEvent(
        ts=now,
        event_id=f"audit-upgrade:{done.head_seq}",
        stage="audit",
        decision="info",
        reason="format_upgraded",
        detail={
            "rows": done.rows,
            "head_seq": done.head_seq,
            "old_head_hash": done.old_head_hash,
            "new_head_hash": done.new_head_hash,
        },
    )
