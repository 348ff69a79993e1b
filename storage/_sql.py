"""The one place that talks to aiosqlite: a lock, explicit transactions and error mapping.

One bot process holds one aiosqlite connection in autocommit mode. Statements from
concurrent coroutines would otherwise interleave inside each other's transactions on
that shared connection, so every operation (read or write) holds one asyncio.Lock;
multi-statement work runs inside `transaction()`, which issues `BEGIN IMMEDIATE` and
commits or rolls back as a unit. Every sqlite/aiosqlite error leaves as StorageError.

Every write (`execute`, `transaction`, a non-SELECT through `fetchone`/`fetchall`)
first awaits `storage.effects.before_effect()`, before taking the lock: pending audit
rows of the current request are written before anything they led to.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiosqlite

from storage.effects import before_effect, is_read
from storage.errors import StorageClosedError, StorageError, map_errors, translate

__all__ = ["Params", "Sql", "Tx"]

Params = Sequence[Any]


class Tx:
    """Statements run while holding the lock: autocommit under `locked()`, or inside
    one transaction under `transaction()`."""

    def __init__(self, conn: aiosqlite.Connection, op: str) -> None:
        self._conn = conn
        self.op = op

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run a query and return every row."""
        with map_errors(self.op):
            return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run a query and return its first row, if any."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement and return the number of rows it changed."""
        with map_errors(self.op):
            cursor = await self._conn.execute(sql, params)
            return cursor.rowcount  # cursors need no close: sqlite3 finalizes them

    async def begin(self) -> None:
        """Start a write transaction (rolling back any left open by an earlier failure)."""
        with map_errors(self.op):
            if self._conn.in_transaction:
                await self._conn.rollback()
            await self._conn.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        """Commit; on failure roll back and raise StorageError."""
        try:
            with map_errors(self.op):
                await self._conn.commit()
        except StorageError:
            await self.rollback()
            raise

    async def rollback(self) -> None:
        """Roll back whatever is open; errors here are swallowed (the first one counts).

        Unconditional on purpose: even if the task was cancelled while a BEGIN was still
        queued on the sqlite thread, this ROLLBACK is queued after it and undoes it.
        """
        with suppress(sqlite3.Error, ValueError):
            await self._conn.rollback()


class Sql:
    """The shared connection, serialised by one lock; see the module docstring."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn: aiosqlite.Connection | None = conn
        self._lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        """Whether `close()` has been called."""
        return self._conn is None

    def _live(self, op: str) -> aiosqlite.Connection:
        if self._conn is None:
            raise StorageClosedError(f"{op}: database is closed", op=op, code="closed")
        return self._conn

    @asynccontextmanager
    async def locked(self, op: str) -> AsyncIterator[Tx]:
        """Hold the lock for several autocommit statements (each commits on its own)."""
        async with self._lock:
            yield Tx(self._live(op), op)

    @asynccontextmanager
    async def transaction(self, op: str) -> AsyncIterator[Tx]:
        """Hold the lock and run the block in one `BEGIN IMMEDIATE` ... `COMMIT` transaction."""
        await before_effect()
        async with self._lock:
            tx = Tx(self._live(op), op)
            try:
                await tx.begin()
                yield tx
            except BaseException:
                await tx.rollback()
                raise
            await tx.commit()

    async def fetchall(self, op: str, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run one query under the lock."""
        if not is_read(sql):
            await before_effect()
        async with self.locked(op) as tx:
            return await tx.fetchall(sql, params)

    async def fetchone(self, op: str, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run one query under the lock and return its first row."""
        if not is_read(sql):
            await before_effect()
        async with self.locked(op) as tx:
            return await tx.fetchone(sql, params)

    async def execute(self, op: str, sql: str, params: Params = ()) -> int:
        """Run one autocommit statement under the lock; return the changed-row count."""
        await before_effect()
        async with self.locked(op) as tx:
            return await tx.execute(sql, params)

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    await conn.close()
                except (sqlite3.Error, ValueError) as exc:
                    raise translate(exc, "close") from None
