"""The hash-chained audit log: every decision of every stage, tamper-evident.

Each row stores `seq` (1, 2, 3, ... with no gaps), `prev_hash` (the previous row's
hash; 64 zeros for the first) and `hash = sha256(canonical JSON of the row's fields
and prev_hash)`. `verify()` walks the chain and reports the first row where a seq
gap (deleted row), a prev_hash mismatch (inserted / reordered row) or a hash mismatch
(edited row) appears, then checks the chain against its signed head log (rolled
back, truncated, rewritten; storage/headcheck.py).

Retention: `purge_before` deletes a prefix of the chain and stores a checkpoint (the
last purged row's seq and hash), HMAC-signed when keys are configured; `verify()`
starts from it. A chain that does not verify is never purged (evidence is kept).

The row format and hashing live in `storage/audit_chain.py`. Writes go through the
audit writer (storage/audit_writer.py), which reads the head inside its write
transaction (never from memory) and appends the signed head line after each commit.
Calls that queue up behind a write in flight are written together in one multi-row
INSERT (group commit), so the cost per call falls as load rises.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from storage import audit_heads
from storage._sql import Sql
from storage._time import to_iso
from storage.audit_anchor import move_anchor, read_head_tx
from storage.audit_chain import (
    GENESIS_HASH,
    AuditEvent,
    AuditRow,
    Digester,
    VerifyResult,
    mask_prepared,
    prepare,
    row_from_db,
    row_from_values,
    seal,
)
from storage.audit_upgrade import Upgrade, rechain, upgrade_event
from storage.audit_verify import load_position, verify_chain
from storage.audit_writer import AuditWriter, settle
from storage.errors import AuditIntegrityError, StorageError
from storage.headcheck import HeadCheck

__all__ = ["GENESIS_HASH", "Audit", "AuditEvent", "AuditRow", "HeadCheck", "VerifyResult"]

_BATCH = 1000


class _Pending:
    """One append_many call waiting to be written (by itself or by an earlier caller)."""

    __slots__ = ("done", "error", "events", "masks", "prepared", "rows")

    def __init__(self, events: list[AuditEvent], digester: Digester) -> None:
        self.events = events
        self.prepared = [prepare(event) for event in events]  # may raise: before queueing
        self.masks = mask_prepared(self.prepared, digester)  # the costly part, outside the lock
        self.rows: list[AuditRow] = []
        self.error: StorageError | None = None
        self.done = False

    def succeed(self, rows: list[AuditRow]) -> None:
        self.rows, self.done = rows, True

    def fail(self, error: StorageError) -> None:
        if not self.done:
            self.error, self.done = error, True


class Audit:
    """The audit log repository."""

    def __init__(
        self,
        sql: Sql,
        writer: AuditWriter,
        mac_keys: Sequence[bytes] = (),
        digester: Digester | None = None,
        head_keys: Sequence[bytes] = (),
    ) -> None:
        self._sql = sql
        self._writer = writer
        self._mac_keys = list(mac_keys)
        self._head_keys = list(head_keys)
        self._digester = digester
        self._queue: list[_Pending] = []

    @property
    def digester(self) -> Digester | None:
        """The keyed digests behind fmt 2 rows and pseudonyms (None: key unavailable)."""
        return self._digester

    def use_mac_keys(self, mac_keys: Sequence[bytes], head_keys: Sequence[bytes] = ()) -> None:
        """Sign checkpoints, anchors (and head lines) with new keys from now on (newest first)."""
        self._mac_keys = list(mac_keys)
        if head_keys:
            self._head_keys = list(head_keys)
            if self._writer.head_log is not None:
                self._writer.head_log.use_keys(head_keys)

    @property
    def mac_keys(self) -> list[bytes]:
        """The keys that sign and check the checkpoint and the anchor, newest first."""
        return list(self._mac_keys)

    @property
    def head_keys(self) -> list[bytes]:
        """The keys that sign and check head lines, newest first (derived from the data key)."""
        return list(self._head_keys)

    @property
    def head_log(self) -> Path | None:
        """Where the signed head log is kept (None: not kept)."""
        log = self._writer.head_log
        return None if log is None else log.path

    @property
    def db_id(self) -> str:
        """The id that names this database in head lines."""
        return self._writer.db_id

    async def head(self) -> tuple[int, str]:
        """(seq, hash) of the chain's head as stored now (last row, else checkpoint, else genesis)."""
        async with self._sql.locked("audit.head") as tx:
            return await read_head_tx(tx)

    async def append(self, event: AuditEvent) -> AuditRow:
        """Append one row."""
        return (await self.append_many([event]))[0]

    async def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRow]:
        """Append rows atomically and in order; all or none are stored.

        Group commit: calls that arrive while a write is in flight queue up, and the
        next caller to get the lock writes every queued call in one statement. Each
        call's rows stay contiguous and atomic. Events are validated and serialised
        before queueing, so a call with a naive ts or a detail that is not JSON-safe
        fails alone (ValueError / StorageError) and stores nothing.
        """
        if not events:
            return []
        if self._digester is None:
            raise StorageError(
                "audit: the pseudonym key is sealed under a data key this process lacks",
                op="audit.append",
                code="key",
            )
        mine = _Pending(list(events), self._digester)
        self._queue.append(mine)
        async with self._sql.locked("audit.append"):
            if not mine.done:
                batch, self._queue = self._queue, []
                await self._flush(batch)
        if mine.error is not None:
            raise mine.error
        return mine.rows

    async def _flush(self, batch: list[_Pending]) -> None:
        future = self._writer.submit(
            "audit.append", self._writer.append, [(p.prepared, p.masks) for p in batch]
        )
        cancelled = await settle(future)  # the outcome is known before anyone else writes
        error = future.exception()
        if error is None:
            for pending, rows in zip(batch, future.result(), strict=True):
                pending.succeed(
                    [
                        row_from_values(row, event.detail)
                        for row, event in zip(rows, pending.events, strict=True)
                    ]
                )
        else:
            failure = (
                error
                if isinstance(error, StorageError)
                else StorageError(f"audit write failed ({type(error).__name__})", op="audit")
            )
            for pending in batch:
                pending.fail(failure)
        if cancelled:
            raise asyncio.CancelledError

    async def tail(
        self, n: int, *, actor: str | None = None, tool: str | None = None
    ) -> list[AuditRow]:
        """The last `n` rows (optionally only an actor's / a tool's), oldest first."""
        where, params = [], []
        if actor is not None:
            where.append("actor = ?")
            params.append(actor)
        if tool is not None:
            where.append("tool = ?")
            params.append(tool)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._sql.fetchall(
            "audit.tail",
            f"SELECT * FROM audit_log {clause} ORDER BY seq DESC LIMIT ?",  # noqa: S608 - fixed
            (*params, max(0, n)),
        )
        return [row_from_db(row) for row in reversed(rows)]

    async def rows(self, *, after_seq: int = 0) -> AsyncIterator[AuditRow]:
        """Every row after `after_seq`, in order, fetched in batches."""
        last = after_seq
        while True:
            batch = await self._sql.fetchall(
                "audit.rows",
                "SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, _BATCH),
            )
            for row in batch:
                yield row_from_db(row)
            if len(batch) < _BATCH:
                return
            last = int(batch[-1]["seq"])

    async def export_jsonl(self, out: TextIO) -> int:
        """Write every row as one JSON line to `out`; return how many."""
        count = 0
        async for row in self.rows():
            out.write(row.to_json() + "\n")
            count += 1
        return count

    async def checkpoint(self) -> tuple[int, str] | None:
        """(seq, hash) of the last purged row, if anything was ever purged."""
        row = await self._sql.fetchone(
            "audit.checkpoint", "SELECT seq, hash FROM audit_checkpoint WHERE id = 1"
        )
        return None if row is None else (int(row[0]), str(row[1]))

    async def _high_seq(self) -> int:
        row = await self._sql.fetchone(
            "audit.verify", "SELECT high_seq FROM audit_state WHERE id = 1"
        )
        return int(row[0]) if row else 0

    async def verify(self, *, heads: Sequence[Path] = ()) -> VerifyResult:
        """Walk the chain from the checkpoint (or genesis), then check it against its signed
        head log and the head copies in `heads`; report the first fault.

        See `storage/audit_verify.py` and `storage/headcheck.py` for the problem codes.
        """
        chain = await verify_chain(
            self._sql, self._mac_keys, head_seq=await self._high_seq(), digest=self._digester
        )
        if not chain.ok and chain.problem not in ("truncated", "anchor_missing"):
            return chain
        head = await self.check_head(heads)
        if not head.ok:
            return VerifyResult(
                ok=False,
                rows_checked=chain.rows_checked,
                first_bad_seq=(head.db_seq + 1) if head.signed_seq is not None else None,
                problem=head.problem,
                message=head.message,
            )
        return chain

    async def check_head(self, heads: Sequence[Path] = ()) -> HeadCheck:
        """Compare the stored chain with the newest signed head (fast: no full walk)."""
        keys = self._head_keys
        return await self._writer.call(
            "audit.check", audit_heads.check, self._writer, tuple(heads), keys
        )

    async def newest_head_line(self) -> str:
        """The head log's newest signed line, as written ("" without one)."""
        log = self._writer.head_log
        return "" if log is None else await asyncio.to_thread(log.last_line)

    async def begin_head_log(self, *, now: datetime) -> bool:
        """Start the head log (a `start` line at the current head) unless it was begun."""
        if self._writer.head_log is None:
            return False
        return await self._writer.call("audit.head", audit_heads.begin, self._writer, to_iso(now))

    async def accept_head(self, found: HeadCheck, *, by: str, now: datetime) -> AuditRow:
        """Go on from a chain that does not match its head log: sign the current head as
        accepted, and record what was found and who accepted it in an audit row."""
        if self._writer.head_log is None:
            raise StorageError("audit: no head log to accept into", op="audit.accept")
        key = self._mac_keys[0] if self._mac_keys else None
        async with self._sql.locked("audit.accept"):
            seq, digest = await self._writer.call(
                "audit.accept", audit_heads.accept, self._writer, to_iso(now), key
            )
        return await self.append(audit_heads.accepted_event(found, by, now, seq, digest))

    async def resign_head(self) -> None:
        """Sign the current head with the newest key (after a key rotation)."""
        async with self._sql.locked("audit.head"):
            await self._writer.call("audit.head", audit_heads.resign, self._writer)

    async def compact_head_log(self, max_bytes: int, *, now: datetime) -> bool:
        """Cut a head log larger than `max_bytes` to one line, when the chain matches it."""
        return await self._writer.call(
            "audit.head", audit_heads.compact, self._writer, max_bytes, to_iso(now)
        )

    async def upgrade_format(self, *, now: datetime) -> int:
        """Re-chain fmt 1 rows as fmt 2 (see storage/audit_upgrade.py); return how many.

        Only a chain that verifies is re-chained (else AuditIntegrityError); the old and
        new head hash are then recorded in an audit row stamped `now`. Safe while another
        process appends: the re-chaining runs in the writer's transaction, under the head
        log's lock, and signs the new head before anyone else can append.
        """
        op = "audit.upgrade"
        if self._digester is None:
            raise StorageError("audit: the pseudonym key is unavailable", op=op, code="key")
        result = await self.verify()
        if not result.ok:
            raise AuditIntegrityError(
                f"audit chain does not verify ({result.problem}); not re-chaining", op=op
            )
        async with self._sql.locked(op):
            done = await self._writer.call(op, self._rechain, self._digester)
        if done is None:
            return 0
        await self.append(upgrade_event(done, now))
        return done.rows

    def _rechain(self, digest: Digester) -> Upgrade | None:
        writer = self._writer
        with writer.ordered():
            with writer.transaction() as conn:
                signed = writer.log_started(conn)
                if signed and writer.head_log is not None:
                    writer.head_log.ready()
                done = rechain(conn, self._mac_keys, digest)
                ts = conn.execute("SELECT ts FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            if done is not None and signed:
                writer.sign_head(
                    "head", done.head_seq, done.new_head_hash, str(ts[0]) if ts else ""
                )
        return done

    async def anchor(self, *, only_if_present: bool = False) -> tuple[int, str]:
        """Record the current head as the signed anchor; return (seq, hash) anchored.

        See `storage/audit_anchor.py`: the anchor only moves forward, from an intact
        anchor (else AuditIntegrityError, and the old anchor stays as evidence).
        """
        async with self._sql.locked("audit.anchor") as tx:
            return await move_anchor(tx, self._mac_keys, only_if_present=only_if_present)

    async def purge_before(self, ts: datetime, *, now: datetime | None = None) -> int:
        """Delete the oldest rows stamped before `ts` (a prefix of the chain); return how many.

        The whole chain is verified first (AuditIntegrityError if it does not verify:
        evidence is never purged), and a signed checkpoint for the last purged row is
        stored in the same transaction.
        """
        op = "audit.purge"
        cut = await self._sql.fetchone(
            # rowid order, stopping at the first young row: scans only what will be purged
            op,
            "SELECT seq FROM audit_log WHERE ts >= ? ORDER BY seq LIMIT 1",
            (to_iso(ts),),
        )
        if cut is None:
            last = await self._sql.fetchone(op, "SELECT max(seq) FROM audit_log")
            if last is None or last[0] is None:
                return 0
            upto = int(last[0])
        else:
            upto = int(cut[0]) - 1
        start = await load_position(self._sql, "audit_checkpoint")
        if upto <= (start.seq if start else 0):
            return 0
        result = await self.verify()
        if not result.ok:
            raise AuditIntegrityError(
                f"audit chain does not verify ({result.problem} at seq {result.first_bad_seq});"
                " not purging",
                op=op,
            )
        async with self._sql.transaction(op) as tx:
            row = await tx.fetchone("SELECT hash FROM audit_log WHERE seq = ?", (upto,))
            if row is None:
                raise AuditIntegrityError("audit row vanished during purge", op=op)
            digest = str(row[0])
            mac = seal(self._mac_keys[0], "checkpoint", upto, digest) if self._mac_keys else ""
            deleted = await tx.execute("DELETE FROM audit_log WHERE seq <= ?", (upto,))
            await tx.execute(
                "INSERT INTO audit_checkpoint (id, seq, hash, purged_at, mac)"
                " VALUES (1, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
                " purged_at = excluded.purged_at, mac = excluded.mac",
                (upto, digest, to_iso(now or ts), mac),
            )
        await self.anchor()
        return deleted
