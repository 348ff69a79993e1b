"""The storage error tree; sqlite and aiosqlite errors are mapped to it at the boundary.

    StorageError              any storage failure (callers deny and audit, fail closed)
    ├── StorageClosedError    the database was closed (or never opened)
    ├── StorageBusyError      the file stayed locked past the busy timeout
    ├── ConstraintError       a uniqueness / check / foreign-key constraint refused a write
    ├── MigrationError        the schema could not be brought up to date, or is newer than us
    ├── AuditIntegrityError   the audit chain is broken where an operation needs it intact
    ├── DecryptError          a ciphertext was not made with any of our keys, or was altered
    └── KeyFileError          a data key is missing, malformed or its file is readable by others

Messages name the operation and the sqlite error code only: never SQL parameters,
secrets, pairing codes or a user's text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "AuditIntegrityError",
    "ConstraintError",
    "DecryptError",
    "KeyFileError",
    "MigrationError",
    "StorageBusyError",
    "StorageClosedError",
    "StorageError",
    "map_errors",
]


class StorageError(Exception):
    """A storage operation failed; `op` names the operation, `code` the sqlite error name."""

    def __init__(self, message: str, *, op: str = "", code: str = "") -> None:
        super().__init__(message)
        self.op = op
        self.code = code


class StorageClosedError(StorageError):
    """The database is closed."""


class StorageBusyError(StorageError):
    """The database file stayed locked by another connection past the busy timeout."""


class ConstraintError(StorageError):
    """A constraint refused the write (duplicate key, failed check, missing reference)."""


class MigrationError(StorageError):
    """Migrations could not be applied, or the file's schema is newer than this code."""


class AuditIntegrityError(StorageError):
    """The audit chain is broken where an operation (e.g. purge) requires it intact."""


class DecryptError(StorageError):
    """A ciphertext could not be decrypted with any configured key."""


class KeyFileError(StorageError):
    """A data key is malformed, or its file is missing or readable by group/others."""


_BUSY = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


def translate(exc: BaseException, op: str) -> StorageError:
    """Turn a sqlite3/aiosqlite exception into our error, keeping only the error code."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorname", "") or type(exc).__name__
        if isinstance(exc, sqlite3.IntegrityError):
            return ConstraintError(f"{op}: constraint failed ({code})", op=op, code=code)
        if code.startswith(tuple(_BUSY)):
            return StorageBusyError(f"{op}: database is busy ({code})", op=op, code=code)
        if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc).lower():
            return StorageClosedError(f"{op}: database is closed", op=op, code=code)
        return StorageError(f"{op}: database error ({code})", op=op, code=code)
    if isinstance(exc, ValueError):  # aiosqlite: "Connection closed" / "no active connection"
        return StorageClosedError(f"{op}: database is closed", op=op, code="closed")
    return StorageError(f"{op}: {type(exc).__name__}", op=op, code=type(exc).__name__)


@contextmanager
def map_errors(op: str) -> Iterator[None]:
    """Re-raise sqlite3 errors (and aiosqlite's closed-connection ValueError) as StorageError."""
    try:
        yield
    except StorageError:
        raise
    except (sqlite3.Error, ValueError) as exc:
        raise translate(exc, op) from None
