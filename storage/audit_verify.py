"""Walking the audit chain: the checks behind `Audit.verify()` and the purge pre-check.

From a trusted start (genesis, or the signed purge checkpoint) each row must have the
next seq (else a row was deleted: `seq_gap`), point at the previous row's hash (else a
row was inserted, removed or moved: `chain_break`) and hash to its stored hash (else it
was edited: `hash_mismatch`; fmt 2 rows need the pseudonym key, else
`pseudonym_key_missing`). The signed anchor must then lie on the walked chain with
the same hash (else rows were cut from the end: `truncated`, or the chain was rewritten:
`anchor_mismatch`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from storage._sql import Sql
from storage.audit_chain import GENESIS_HASH, VerifyResult, check_seal, row_hash, row_hash_v2

__all__ = ["Position", "load_position", "verify_chain", "walk"]

_BATCH = 1000
_SELECT = (
    "SELECT seq, ts, event_id, stage, actor, channel, tool, decision, reason, detail,"
    " args_hash, latency_ms, prev_hash, hash, fmt FROM audit_log WHERE seq > ? ORDER BY seq"
    " LIMIT ?"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """A signed chain position (the purge checkpoint or the anchor)."""

    seq: int
    hash: str
    mac: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Walked:
    """Where a walk ended, and the hash seen at the watched seq (if reached)."""

    fault: VerifyResult | None
    checked: int
    last_seq: int
    last_hash: str
    watched_hash: str | None


async def load_position(sql: Sql, table: str) -> Position | None:
    """The row of `audit_checkpoint` or `audit_anchor`, if any."""
    if table not in ("audit_checkpoint", "audit_anchor"):
        raise ValueError("unknown position table")
    row = await sql.fetchone(
        "audit.verify",
        f"SELECT seq, hash, mac FROM {table} WHERE id = 1",  # noqa: S608 - fixed names
    )
    return None if row is None else Position(seq=int(row[0]), hash=str(row[1]), mac=str(row[2]))


async def walk(
    sql: Sql,
    seq: int,
    prev: str,
    *,
    stop_seq: int | None = None,
    watch_seq: int = -1,
    digest: Callable[[str], str] | None = None,
) -> Walked:
    """Check rows after `seq` (up to `stop_seq`), starting from hash `prev`."""
    checked = 0
    watched = prev if watch_seq == seq else None

    def fault(bad: int, problem: str) -> Walked:
        result = VerifyResult(ok=False, rows_checked=checked, first_bad_seq=bad, problem=problem)
        return Walked(
            fault=result, checked=checked, last_seq=seq, last_hash=prev, watched_hash=watched
        )

    while True:
        limit = _BATCH if stop_seq is None else max(0, min(_BATCH, stop_seq - seq))
        if limit == 0:
            break
        batch = await sql.fetchall("audit.verify", _SELECT, (seq, limit))
        for row in batch:
            got = int(row[0])
            if got != seq + 1:
                return fault(seq + 1, "seq_gap")
            if row[12] != prev:
                return fault(got, "chain_break")
            fields = tuple(row[i] for i in range(12))
            try:
                if row[14] == 1:
                    computed = row_hash(fields, prev)
                elif digest is None:
                    return fault(got, "pseudonym_key_missing")
                else:
                    computed = row_hash_v2(fields, prev, digest) if row[14] == 2 else ""
            except (TypeError, ValueError, RecursionError):
                computed = ""
            if computed != row[13]:
                return fault(got, "hash_mismatch")
            seq, prev = got, str(row[13])
            checked += 1
            if seq == watch_seq:
                watched = prev
        if len(batch) < limit:
            break
    return Walked(fault=None, checked=checked, last_seq=seq, last_hash=prev, watched_hash=watched)


async def verify_chain(
    sql: Sql,
    keys: Sequence[bytes],
    *,
    head_seq: int,
    digest: Callable[[str], str] | None = None,
) -> VerifyResult:
    """Verify the whole stored chain; `head_seq` is the last seq this process wrote or saw."""
    checkpoint = await load_position(sql, "audit_checkpoint")
    anchor = await load_position(sql, "audit_anchor")
    for kind, position in (("checkpoint", checkpoint), ("anchor", anchor)):
        if position is not None:
            problem = check_seal(keys, kind, position.seq, position.hash, position.mac)
            if problem:
                return VerifyResult(
                    ok=False, rows_checked=0, first_bad_seq=position.seq, problem=problem
                )
    start, prev = (checkpoint.seq, checkpoint.hash) if checkpoint else (0, GENESIS_HASH)
    watch = anchor.seq if anchor is not None and anchor.seq >= start else -1
    walked = await walk(sql, start, prev, watch_seq=watch, digest=digest)
    if walked.fault is not None:
        return walked.fault
    last = walked.last_seq
    if anchor is None:
        if last > 0:  # rows (or a checkpoint) but no anchor: it was removed
            return VerifyResult(
                ok=False, rows_checked=walked.checked, first_bad_seq=None, problem="anchor_missing"
            )
    elif anchor.seq > last or head_seq > last:
        return VerifyResult(
            ok=False, rows_checked=walked.checked, first_bad_seq=last + 1, problem="truncated"
        )
    elif watch >= 0 and walked.watched_hash != anchor.hash:
        return VerifyResult(
            ok=False,
            rows_checked=walked.checked,
            first_bad_seq=anchor.seq,
            problem="anchor_mismatch",
        )
    if anchor is None and head_seq > last:
        return VerifyResult(
            ok=False, rows_checked=walked.checked, first_bad_seq=last + 1, problem="truncated"
        )
    return VerifyResult(ok=True, rows_checked=walked.checked)
