"""The hash-chained audit log: every decision of every stage, tamper-evident.

Each row stores `seq` (1, 2, 3, ... with no gaps), `prev_hash` (the previous row's
hash; 64 zeros for the first) and `hash = sha256(canonical JSON of the row's fields
and prev_hash)`. `verify()` walks the chain and reports the first row where a seq
gap (deleted row), a prev_hash mismatch (inserted / reordered row) or a hash mismatch
(edited row) appears.

Retention: `purge_before` deletes a prefix of the chain and stores a checkpoint (the
last purged row's seq and hash), HMAC-signed when keys are configured; `verify()`
starts from it. A chain that does not verify is never purged (evidence is kept).

The row format and hashing live in `storage/audit_chain.py`. Appends are serialised
by the database lock and the head (last seq and hash) is kept in memory; calls that
queue up behind a write in flight are written together in one multi-row INSERT
(group commit), so the cost per call falls as load rises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TextIO

from storage._sql import Sql, Tx
from storage._time import to_iso
from storage.audit_chain import (
    GENESIS_HASH,
    AuditEvent,
    AuditRow,
    Digester,
    VerifyResult,
    chain_rows,
    check_seal,
    mask_prepared,
    prepare,
    row_from_db,
    row_from_values,
    seal,
)
from storage.audit_upgrade import rechain, upgrade_event
from storage.audit_verify import load_position, verify_chain
from storage.errors import AuditIntegrityError, ConstraintError, StorageError

__all__ = ["GENESIS_HASH", "Audit", "AuditEvent", "AuditRow", "VerifyResult"]

_BATCH = 1000
_INSERT = (
    "INSERT INTO audit_log (seq, ts, event_id, stage, actor, channel, tool, decision, reason,"
    " detail, args_hash, latency_ms, prev_hash, hash, fmt) VALUES "
)
_ROW_SLOTS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ROWS_PER_STATEMENT = 256  # 15 parameters each: far below SQLite's 32766-variable limit


@lru_cache(maxsize=64)
def _insert_sql(n: int) -> str:
    return _INSERT + ", ".join([_ROW_SLOTS] * n)


def _flatten(rows: list[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


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
    """The audit log repository. Call `load_head()` once before appending (Database does)."""

    def __init__(
        self, sql: Sql, mac_keys: Sequence[bytes] = (), digester: Digester | None = None
    ) -> None:
        self._sql = sql
        self._mac_keys = list(mac_keys)
        self._digester = digester
        self._seq = 0
        self._hash = GENESIS_HASH
        self._queue: list[_Pending] = []

    @property
    def digester(self) -> Digester | None:
        """The keyed digests behind fmt 2 rows and pseudonyms (None: key unavailable)."""
        return self._digester

    def use_mac_keys(self, mac_keys: Sequence[bytes]) -> None:
        """Sign checkpoints and anchors with new keys from now on (newest first)."""
        self._mac_keys = list(mac_keys)

    @property
    def mac_keys(self) -> list[bytes]:
        """The keys that sign and check the checkpoint and the anchor, newest first."""
        return list(self._mac_keys)

    @property
    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last row appended or loaded; record it elsewhere to anchor."""
        return self._seq, self._hash

    async def load_head(self) -> None:
        """Read the chain's head from the file (last row, else checkpoint, else genesis)."""
        async with self._sql.locked("audit.load_head") as tx:
            await self._reload(tx)

    async def _reload(self, tx: Tx) -> None:
        row = await tx.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        if row is None:
            row = await tx.fetchone("SELECT seq, hash FROM audit_checkpoint WHERE id = 1")
        self._seq, self._hash = (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

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
        async with self._sql.locked("audit.append") as tx:
            if not mine.done:
                batch, self._queue = self._queue, []
                await self._flush(tx, batch)
        if mine.error is not None:
            raise mine.error
        return mine.rows

    async def _flush(self, tx: Tx, batch: list[_Pending]) -> None:
        try:
            for attempt in (1, 2):
                seq, prev = self._seq, self._hash
                values: list[tuple[Any, ...]] = []
                spans: list[tuple[_Pending, int, int]] = []
                for pending in batch:
                    if pending.done:
                        continue
                    rows = chain_rows(pending.prepared, seq, prev, pending.masks)
                    spans.append((pending, len(values), len(values) + len(rows)))
                    values.extend(rows)
                    seq, prev = rows[-1][0], rows[-1][13]
                if not values:
                    return
                try:
                    await self._write(tx, values)
                except ConstraintError:
                    if attempt == 2:
                        raise
                    await self._reload(tx)  # another writer appended: rebuild on its head
                    continue
                self._seq, self._hash = seq, prev
                for pending, start, end in spans:
                    pending.succeed(
                        [
                            row_from_values(row, event.detail)
                            for row, event in zip(values[start:end], pending.events, strict=True)
                        ]
                    )
                return
        except StorageError as exc:
            for pending in batch:
                pending.fail(exc)
        except BaseException:
            interrupted = StorageError("audit write interrupted", op="audit.append")
            for pending in batch:
                pending.fail(interrupted)
            raise

    @staticmethod
    async def _write(tx: Tx, rows: list[tuple[Any, ...]]) -> None:
        # The caller holds the lock. Up to _ROWS_PER_STATEMENT rows go in one multi-row
        # INSERT, which is atomic on its own (one round trip to the sqlite thread); more
        # rows share one explicit transaction.
        chunks = [
            rows[i : i + _ROWS_PER_STATEMENT] for i in range(0, len(rows), _ROWS_PER_STATEMENT)
        ]
        if len(chunks) == 1:
            await tx.execute(_insert_sql(len(rows)), _flatten(rows))
            return
        try:
            await tx.begin()
            for chunk in chunks:
                await tx.execute(_insert_sql(len(chunk)), _flatten(chunk))
        except BaseException:
            await tx.rollback()
            raise
        await tx.commit()

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

    async def verify(self) -> VerifyResult:
        """Walk the chain from the checkpoint (or genesis) and report the first fault.

        See `storage/audit_verify.py` for the checks and problem codes.
        """
        return await verify_chain(
            self._sql, self._mac_keys, head_seq=self._seq, digest=self._digester
        )

    async def upgrade_format(self, *, now: datetime) -> int:
        """Re-chain fmt 1 rows as fmt 2 (see storage/audit_upgrade.py); return how many.

        Only a chain that verifies is re-chained (else AuditIntegrityError); the old and
        new head hash are then recorded in an audit row stamped `now`.
        """
        op = "audit.upgrade"
        if self._digester is None:
            raise StorageError("audit: the pseudonym key is unavailable", op=op, code="key")
        result = await self.verify()
        if not result.ok:
            raise AuditIntegrityError(
                f"audit chain does not verify ({result.problem}); not re-chaining", op=op
            )
        try:
            async with self._sql.transaction(op) as tx:
                done = await rechain(tx, self._mac_keys, self._digester)
                if done is not None:  # before the lock is released: queued appends follow it
                    self._seq, self._hash = done.head_seq, done.new_head_hash
        except BaseException:
            await self.load_head()
            raise
        if done is None:
            return 0
        await self.append(upgrade_event(done, now))
        return done.rows

    async def anchor(self, *, only_if_present: bool = False) -> tuple[int, str]:
        """Record the current head as the signed anchor; return (seq, hash) anchored.

        Call it periodically (e.g. every minute from the scheduler): rows cut from the
        end of the log before the anchor are then detected even after a restart. The
        anchor only moves forward, and only from an anchor that is intact (signature
        valid, its row still has its hash): otherwise AuditIntegrityError, and the old
        anchor stays as evidence. With `only_if_present`, an absent anchor is recreated
        only while the log is empty (a removed anchor is reported by verify()).
        """
        op = "audit.anchor"
        async with self._sql.locked(op) as tx:
            seq, digest = self._seq, self._hash
            current = await tx.fetchone("SELECT seq, hash, mac FROM audit_anchor WHERE id = 1")
            if current is None:
                if only_if_present and seq > 0:
                    return seq, digest
            else:
                await self._check_anchor(tx, int(current[0]), str(current[1]), str(current[2]))
                if int(current[0]) >= seq:
                    return int(current[0]), str(current[1])
            mac = seal(self._mac_keys[0], "anchor", seq, digest) if self._mac_keys else ""
            await tx.execute(
                "INSERT INTO audit_anchor (id, seq, hash, mac) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
                " mac = excluded.mac WHERE excluded.seq >= audit_anchor.seq",
                (seq, digest, mac),
            )
        return seq, digest

    async def _check_anchor(self, tx: Tx, seq: int, digest: str, mac: str) -> None:
        op = "audit.anchor"
        if check_seal(self._mac_keys, "anchor", seq, digest, mac):
            raise AuditIntegrityError("audit anchor does not verify; not moving it", op=op)
        row = await tx.fetchone("SELECT hash FROM audit_log WHERE seq = ?", (seq,))
        if row is None:
            point = await tx.fetchone("SELECT seq, hash FROM audit_checkpoint WHERE id = 1")
            if seq == 0:
                expected = GENESIS_HASH
            elif point is not None and int(point[0]) >= seq:
                expected = str(point[1]) if int(point[0]) == seq else digest  # purged earlier
            else:
                raise AuditIntegrityError("audit anchor row is missing; not moving it", op=op)
        else:
            expected = str(row[0])
        if expected != digest:
            raise AuditIntegrityError("audit anchor does not match the chain", op=op)

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
