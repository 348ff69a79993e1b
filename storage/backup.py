"""A consistent copy of the live database, taken with SQLite's online backup API.

    result = await backup_to(db, Path("/backups/frontdoor-2026-11-22.db"))

The copy is made in a worker thread on a connection of its own (opened, used and
closed in that thread), in one backup step: it reads one snapshot of the committed
state while the bot's connection keeps writing (WAL), so the copy is consistent and
the bot is not paused. It is written to a private temporary file (0600) next to the
destination, switched to a single-file journal, synced, and only then put in place;
an existing destination is refused unless `overwrite=True` (then replaced atomically).
Verifying the copy is the caller's next step (bot/ops.py opens it and walks the chain).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storage.errors import StorageError, translate

if TYPE_CHECKING:
    from storage.db import Database

__all__ = ["BackupResult", "backup_to", "write_private"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupResult:
    """Where the copy went and how big it is."""

    path: Path
    size_bytes: int
    pages: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(source: Path, tmp: Path, busy_timeout_ms: int) -> int:
    with (
        closing(sqlite3.connect(source, isolation_level=None)) as src,
        closing(sqlite3.connect(tmp, isolation_level=None)) as dst,
    ):
        src.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms):d}")
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode = DELETE")
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return pages


def _place(tmp: Path, dest: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, dest)
    else:
        os.link(tmp, dest)  # FileExistsError if someone created it meanwhile
        tmp.unlink()
    _fsync_dir(dest.parent)


def _run(source: Path, dest: Path, overwrite: bool, busy_timeout_ms: int) -> BackupResult:
    op = "backup"
    if dest.exists() and not overwrite:
        raise StorageError("backup: destination exists (pass overwrite to replace it)", op=op)
    if dest.resolve() == source.resolve():
        raise StorageError("backup: destination is the database itself", op=op)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.tmp")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        pages = _copy(source, tmp, busy_timeout_ms)
        _place(tmp, dest, overwrite=overwrite)
    except FileExistsError:
        raise StorageError("backup: destination exists", op=op, code="exists") from None
    except OSError as exc:
        raise StorageError(f"backup: cannot write the copy ({exc.strerror})", op=op) from None
    except sqlite3.Error as exc:
        raise translate(exc, op) from None
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()
        for suffix in ("-journal", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                tmp.with_name(tmp.name + suffix).unlink()
    return BackupResult(path=dest, size_bytes=dest.stat().st_size, pages=pages)


def write_private(path: Path, text: str) -> None:
    """Write `text` to a new private (0600) file, replacing any file there atomically."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise StorageError(
            f"backup: cannot write {path.name} ({exc.strerror})", op="backup"
        ) from None


async def backup_to(
    db: Database, dest: Path, *, overwrite: bool = False, busy_timeout_ms: int = 5000
) -> BackupResult:
    """Copy the live database to `dest` (0600); StorageError if it exists (unless `overwrite`)."""
    if db.closed:
        raise StorageError("backup: database is closed", op="backup", code="closed")
    return await asyncio.to_thread(_run, db.path, Path(dest), overwrite, busy_timeout_ms)
