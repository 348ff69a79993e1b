"""The audit writer: one thread with a connection of its own that extends the chain.

Each write runs in one hop to that thread, in this order:

    lock the head log (storage/headlog.py; cross-process, so lines follow commit order)
    BEGIN IMMEDIATE
    read the head: the last row, else the purge checkpoint, else genesis
    insert the rows linked to it          (or re-chain old rows: storage/audit_upgrade.py)
    COMMIT
    append the signed head line
    unlock

The head is never kept in memory: a row another process appended meanwhile
(`frontdoor forget` while the bot runs) is followed, never forked. On top of that
the database itself refuses a row whose seq is not the next one or whose prev_hash
is not the previous row's hash (`LINK_TRIGGERS`, put in place at every open). Each
write also raises `audit_state.high_seq`, the highest seq ever stored, so rows cut
from the end are told apart from an older database put back.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from storage.audit_chain import GENESIS_HASH, Masked, chain_rows
from storage.errors import StorageError, translate
from storage.headlog import HeadLog

__all__ = ["LINK_TRIGGERS", "AuditWriter", "read_head", "settle", "triggers_script"]

T = TypeVar("T")

LINK_TRIGGERS = {
    "audit_log_link": f"""CREATE TRIGGER audit_log_link BEFORE INSERT ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_link: seq is not the next one') WHERE NEW.seq IS NOT coalesce(
        (SELECT max(seq) FROM audit_log), (SELECT seq FROM audit_checkpoint WHERE id = 1), 0) + 1;
    SELECT RAISE(ABORT, 'audit_link: prev_hash is not the hash of the previous row')
    WHERE NEW.prev_hash IS NOT coalesce(
        (SELECT hash FROM audit_log WHERE seq = NEW.seq - 1),
        (SELECT hash FROM audit_checkpoint WHERE id = 1 AND seq = NEW.seq - 1),
        CASE WHEN NEW.seq = 1 THEN '{GENESIS_HASH}' END);
END""",  # noqa: S608 - a constant
}


def triggers_script(present: dict[str, str]) -> str:
    """SQL that (re)creates every link trigger missing from `present` (name -> stored SQL)
    or different from ours; "" when all are in place."""
    parts = [
        f"DROP TRIGGER IF EXISTS {name};\n{sql};"
        for name, sql in LINK_TRIGGERS.items()
        if present.get(name) != sql
    ]
    return "BEGIN IMMEDIATE;\n" + "\n".join(parts) + "\nCOMMIT;" if parts else ""


_INSERT = (
    "INSERT INTO audit_log (seq, ts, event_id, stage, actor, channel, tool, decision, reason,"
    " detail, args_hash, latency_ms, prev_hash, hash, fmt) VALUES "
)
_ROW_SLOTS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_HIGH = "UPDATE audit_state SET high_seq = ? WHERE id = 1 AND high_seq < ?"
_ROWS_PER_STATEMENT = 256  # 15 parameters each: far below SQLite's 32766-variable limit


@lru_cache(maxsize=64)
def _insert_sql(n: int) -> str:
    return _INSERT + ", ".join([_ROW_SLOTS] * n)


def read_head(conn: sqlite3.Connection) -> tuple[int, str]:
    """(seq, hash) of the chain's head as stored: last row, else checkpoint, else genesis."""
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        row = conn.execute("SELECT seq, hash FROM audit_checkpoint WHERE id = 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


Batch = tuple[Sequence[tuple[Any, ...]], Sequence[Masked] | None]


class AuditWriter:
    """Writes to the audit chain from a thread of its own (see the module docstring)."""

    def __init__(
        self, path: Path, *, head_log: HeadLog | None = None, busy_timeout_ms: int = 5000
    ) -> None:
        self._path = Path(path)
        self._busy_ms = int(busy_timeout_ms)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-writer")
        self._conn: sqlite3.Connection | None = None  # used only in the pool's thread
        self.head_log = head_log
        self.db_id = ""
        self._log_error: StorageError | None = None

    async def open(self) -> None:
        """Connect (in the writer's thread) and read the database's id."""
        await self.call("audit.open", self._open)

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=self._busy_ms / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms:d}")
            for pragma in ("foreign_keys = ON", "synchronous = NORMAL", "trusted_schema = OFF"):
                conn.execute(f"PRAGMA {pragma}")
            conn.execute("PRAGMA secure_delete = ON")
            row = conn.execute("SELECT db_id FROM audit_state WHERE id = 1").fetchone()
        except BaseException:
            conn.close()
            raise
        self.db_id = str(row[0]) if row else ""
        self._conn = conn

    def submit(self, op: str, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Start `fn(*args)` in the writer's thread; sqlite errors leave as StorageError."""
        return asyncio.get_running_loop().run_in_executor(self._pool, _mapped, op, fn, args)

    async def call(self, op: str, fn: Callable[..., T], *args: Any) -> T:
        """`submit` and wait; a cancellation waits for the work to finish, then is raised."""
        future = self.submit(op, fn, *args)
        cancelled = await settle(future)
        result = future.result()
        if cancelled:
            raise asyncio.CancelledError
        return result

    @property
    def conn(self) -> sqlite3.Connection:
        """The writer's connection (only from inside `call`)."""
        if self._conn is None:
            raise StorageError("audit: writer is closed", op="audit", code="closed")
        return self._conn

    @contextlib.contextmanager
    def ordered(self) -> Iterator[None]:
        """Hold the head log's lock (no-op without a head log)."""
        if self.head_log is None:
            yield
            return
        with self.head_log.locked():
            yield

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT on the writer's connection (rolled back on error)."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def log_started(self, conn: sqlite3.Connection) -> bool:
        """Whether a head log was begun for this database (read in the caller's transaction)."""
        if self.head_log is None:
            return False
        row = conn.execute("SELECT log_since FROM audit_state WHERE id = 1").fetchone()
        return row is not None and row[0] is not None

    def sign_head(self, kind: str, seq: int, digest: str, ts: str, *, create: bool = False) -> None:
        """Append a head line (the caller holds `ordered()`); a failure is kept, and raised
        by the next write: the rows before it are committed already."""
        assert self.head_log is not None
        try:
            self.head_log.append(
                kind=kind, db=self.db_id, seq=seq, digest=digest, ts=ts, create=create
            )
        except StorageError as exc:
            self._log_error = exc

    def append(self, batches: Sequence[Batch]) -> list[list[tuple[Any, ...]]]:
        """Link and insert each batch after the stored head, in one transaction (writer thread)."""
        if self._log_error is not None:
            raise self._log_error
        out: list[list[tuple[Any, ...]]] = []
        values: list[tuple[Any, ...]] = []
        with self.ordered():
            with self.transaction() as conn:
                signed = self.log_started(conn)
                if signed:
                    assert self.head_log is not None
                    self.head_log.ready()  # a removed head log refuses the write: nothing commits
                seq, prev = read_head(conn)
                for prepared, masks in batches:
                    rows = chain_rows(prepared, seq, prev, masks)
                    out.append(rows)
                    values.extend(rows)
                    seq, prev = rows[-1][0], rows[-1][13]
                for start in range(0, len(values), _ROWS_PER_STATEMENT):
                    chunk = values[start : start + _ROWS_PER_STATEMENT]
                    conn.execute(_insert_sql(len(chunk)), [v for row in chunk for v in row])
                conn.execute(_HIGH, (seq, seq))
            if signed and values:
                self.sign_head("head", seq, prev, str(values[-1][1]))
        return out

    async def close(self) -> None:
        """Close the connection and the head log, and stop the thread (idempotent)."""
        if self._conn is not None:
            with contextlib.suppress(StorageError):
                await self.call("audit.close", self._close)
        if self.head_log is not None:
            await asyncio.to_thread(self.head_log.close)
        self._pool.shutdown(wait=True)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


async def settle(future: asyncio.Future[Any]) -> bool:
    """Wait until `future` is done, even through cancellation; return whether we were cancelled.

    Work handed to the writer cannot be taken back halfway, so its outcome is always
    collected (rows committed by a cancelled caller are still reported as written).
    """
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait({future})
        except asyncio.CancelledError:
            cancelled = True
    return cancelled


def _mapped(op: str, fn: Callable[..., T], args: Sequence[Any]) -> T:
    try:
        return fn(*args)
    except sqlite3.Error as exc:
        raise translate(exc, op) from None
