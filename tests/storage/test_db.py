"""Opening the database: file creation, pragmas, migrations, and errors at the boundary."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import stat
import struct
from pathlib import Path

import aiosqlite
import pytest

from storage import (
    Database,
    FieldCipher,
    MigrationError,
    StorageBusyError,
    StorageClosedError,
    StorageError,
)
from storage.migrate import Migration, apply_migrations, load_migrations
from tests.storage.conftest import NOW

EXPECTED_TABLES = {
    "identities",
    "pairing_requests",
    "pairing_failures",
    "grants",
    "roles",
    "settings",
    "approvals",
    "approval_votes",
    "approval_cards",
    "runs",
    "idempotency",
    "audit_log",
    "audit_checkpoint",
    "schema_version",
}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    conn.close()
    return {row[0] for row in rows}


async def test_open_creates_private_file_and_parent(db_path: Path) -> None:
    """A fresh path gets a 0700 directory and a 0600 file holding every table."""
    db = await Database.open(db_path)
    await db.close()
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert _tables(db_path) >= EXPECTED_TABLES


async def test_open_tightens_loose_file_permissions(tmp_path: Path) -> None:
    """An existing database readable by others is made private."""
    path = tmp_path / "loose.db"
    db = await Database.open(path)
    await db.settings.set("k", 1, by="t", now=NOW)
    wal = tmp_path / "loose.db-wal"
    await db.close()
    path.chmod(0o644)
    wal.touch()
    wal.chmod(0o664)
    db = await Database.open(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        await db.close()


async def test_pragmas_are_set(db: Database, db_path: Path) -> None:
    """The connection runs WAL with foreign keys on, synchronous NORMAL and a busy timeout."""
    rows = await db._sql.fetchall("t", "PRAGMA journal_mode")
    assert rows[0][0] == "wal"
    assert (await db._sql.fetchall("t", "PRAGMA foreign_keys"))[0][0] == 1
    assert (await db._sql.fetchall("t", "PRAGMA synchronous"))[0][0] == 1
    assert (await db._sql.fetchall("t", "PRAGMA busy_timeout"))[0][0] == 5000


async def test_migrations_are_idempotent_on_reopen(db_path: Path) -> None:
    """Reopening applies nothing twice and keeps data."""
    first = await Database.open(db_path)
    await first.settings.set("k", {"v": 1}, by="t", now=NOW)
    await first.close()
    second = await Database.open(db_path)
    try:
        assert await second.schema_version() == len(load_migrations())
        assert await second.settings.get("k") == {"v": 1}
        versions = await second._sql.fetchall("t", "SELECT version FROM schema_version")
        assert [row[0] for row in versions] == list(range(1, len(load_migrations()) + 1))
    finally:
        await second.close()


async def test_newer_schema_is_refused(db_path: Path) -> None:
    """A file migrated by newer code is not opened (fail closed)."""
    db = await Database.open(db_path)
    await db.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future')")
    conn.close()
    with pytest.raises(MigrationError, match="newer"):
        await Database.open(db_path)


async def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    """A migration that fails half-way leaves neither its tables nor its version row."""
    good = Migration(version=1, name="one", sql="CREATE TABLE one (x INTEGER) STRICT;")
    bad = Migration(
        version=2,
        name="two",
        sql="CREATE TABLE two (x INTEGER) STRICT; INSERT INTO nope VALUES (1);",
    )
    async with aiosqlite.connect(tmp_path / "m.db", isolation_level=None) as conn:
        assert await apply_migrations(conn, [good]) == 1
        with pytest.raises(MigrationError, match="0002"):
            await apply_migrations(conn, [good, bad])
        names = {row[0] for row in await conn.execute_fetchall("SELECT name FROM sqlite_master")}
        versions = [
            row[0] for row in await conn.execute_fetchall("SELECT version FROM schema_version")
        ]
    assert "one" in names
    assert "two" not in names
    assert versions == [1]


async def test_not_a_database_raises_storage_error(tmp_path: Path) -> None:
    """A file that is not SQLite fails to open with StorageError, not sqlite3's error."""
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    path.chmod(0o600)
    with pytest.raises(StorageError) as info:
        await Database.open(path)
    assert not isinstance(info.value, sqlite3.Error)


async def test_closed_database_raises_storage_closed(db_path: Path) -> None:
    """Every call after close() raises StorageClosedError; close() is idempotent."""
    db = await Database.open(db_path)
    await db.close()
    await db.close()
    assert db.closed
    with pytest.raises(StorageClosedError):
        await db.idempotency.claim("e1", NOW)
    with pytest.raises(StorageClosedError):
        await db.audit.tail(1)


async def test_locked_file_raises_busy(tmp_path: Path) -> None:
    """A write blocked by another connection's lock past the busy timeout is StorageBusyError."""
    path = tmp_path / "busy.db"
    db = await Database.open(path, busy_timeout_ms=20)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO idempotency (key, seen_at) VALUES ('x', 'y')")
        with pytest.raises(StorageBusyError):
            await db.idempotency.claim("e1", NOW)
        other.execute("ROLLBACK")
        assert await db.idempotency.claim("e1", NOW) is True
    finally:
        other.close()
        await db.close()


async def test_error_messages_carry_no_parameters(db: Database) -> None:
    """A constraint failure names the operation and code, not the values bound."""
    await db.runs.start(run_id="secret-run-id", requester="u", tool="t", now=NOW)
    with pytest.raises(StorageError) as info:
        await db.runs.start(run_id="secret-run-id", requester="u", tool="t", now=NOW)
    assert "secret-run-id" not in str(info.value)
    assert info.value.op == "runs.start"
    assert info.value.code.startswith("SQLITE_CONSTRAINT")


async def test_naive_datetime_is_refused(db: Database) -> None:
    """A naive datetime is a caller bug and is refused before anything is stored."""
    from datetime import datetime

    with pytest.raises(ValueError, match="naive"):
        await db.idempotency.claim("e1", datetime(2026, 1, 1))
    assert await db.idempotency.claim("e1", NOW) is True


async def test_open_derives_audit_keys_from_cipher(db_path: Path) -> None:
    """Without explicit audit keys, the checkpoint key is derived from the data key."""
    cipher = FieldCipher(FieldCipher.generate_key())
    db = await Database.open(db_path, cipher=cipher)
    try:
        assert db.audit._mac_keys == cipher.derive_keys("audit-checkpoint")
    finally:
        await db.close()


async def test_interrupted_transaction_is_rolled_back(db_path: Path) -> None:
    """A transaction interrupted by cancellation leaves nothing behind and later writes commit."""
    db = await Database.open(db_path)

    async def interrupted() -> None:
        async with db._sql.transaction("t") as tx:
            await tx.execute("INSERT INTO idempotency (key, seen_at) VALUES ('a', 'x')")
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await interrupted()
    assert await db.idempotency.claim("b", NOW) is True
    await db.close()
    again = await Database.open(db_path)
    try:
        assert await again.idempotency.claim("a", NOW) is True
        assert await again.idempotency.claim("b", NOW) is False
    finally:
        await again.close()


async def test_unwritable_location_raises_storage_error(tmp_path: Path) -> None:
    """A path under a regular file cannot be created: StorageError, naming no path."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot prepare"):
        await Database.open(blocker / "sub" / "db.sqlite")


_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10


def _set_read_only(path: Path, on: bool) -> None:
    """Make a file unwritable: mode bits for a normal user, the immutable flag for root."""
    if os.geteuid() != 0:
        path.chmod(0o400 if on else 0o600)
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        (flags,) = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, struct.pack("i", 0)))
        flags = flags | _FS_IMMUTABLE_FL if on else flags & ~_FS_IMMUTABLE_FL
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", flags))
    finally:
        os.close(fd)


async def test_read_only_file_raises_storage_error(db_path: Path) -> None:
    """Writing to a database file that became read-only raises StorageError, reads still work."""
    db = await Database.open(db_path)
    await db.settings.set("k", 1, by="t", now=NOW)
    await db.close()
    _set_read_only(db_path, True)
    try:
        db = await Database.open(db_path)
        try:
            assert await db.settings.get("k") == 1
            with pytest.raises(StorageError) as info:
                await db.idempotency.claim("e1", NOW)
            assert info.value.code == "SQLITE_READONLY"
        finally:
            await db.close()
    finally:
        _set_read_only(db_path, False)
