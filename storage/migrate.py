"""Numbered SQL migrations, applied in order at open and tracked in `schema_version`.

Files are `storage/migrations/NNNN_name.sql`. Each pending one runs in its own
transaction together with the row that records it, so a failure leaves the file at
the previous version. A file whose schema is newer than this code is refused (fail
closed): running old code against a newer schema could skip checks it relies on.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import suppress
from dataclasses import dataclass
from importlib import resources

import aiosqlite

from storage.errors import MigrationError, translate

__all__ = ["Migration", "apply_migrations", "load_migrations"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Read the packaged migration files, in version order, checking numbering has no gaps."""
    found: list[Migration] = []
    for entry in (resources.files("storage") / "migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        found.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                sql=entry.read_text(encoding="utf-8"),
            )
        )
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration numbering gap at {expected:04d}", op="migrate")
    return found


async def apply_migrations(conn: aiosqlite.Connection, migrations: list[Migration]) -> int:
    """Bring the schema up to date; return the resulting version."""
    op = "migrate"
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
            ") STRICT"
        )
        rows = await conn.execute_fetchall("SELECT version, name FROM schema_version")
    except (sqlite3.Error, ValueError) as exc:
        raise translate(exc, op) from None
    applied = {int(row[0]): str(row[1]) for row in rows}
    known = {m.version: m.name for m in migrations}
    newer = [v for v in applied if v not in known]
    if newer:
        raise MigrationError(f"database schema version {max(newer)} is newer than this code", op=op)
    for version, name in applied.items():
        if known[version] != name:
            raise MigrationError(f"migration {version:04d} differs from the applied one", op=op)
    for migration in migrations:
        if migration.version in applied:
            continue
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;\n"
            f"INSERT INTO schema_version (version, name) "
            f"VALUES ({migration.version:d}, '{migration.name}');\n"
            "COMMIT;\n"
        )
        try:
            await conn.executescript(script)
        except (sqlite3.Error, ValueError) as exc:
            with suppress(sqlite3.Error, ValueError):
                if conn.in_transaction:
                    await conn.rollback()
            raise MigrationError(
                f"migration {migration.version:04d} failed ({_code(exc)})", op=op
            ) from None
    return max(known, default=0)


def _code(exc: BaseException) -> str:
    return getattr(exc, "sqlite_errorname", "") or type(exc).__name__
