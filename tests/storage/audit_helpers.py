"""Helpers for the audit tests: sample events, filling a log, editing the file behind its back."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import aiosqlite

from storage import GENESIS_HASH, AuditEvent, Database, FieldCipher
from storage.audit_chain import build_rows, seal
from storage.db import AUDIT_MAC_PURPOSE
from storage.migrate import apply_migrations, load_migrations

__all__ = ["fill_log", "old_database", "sample_event", "tamper"]


def sample_event(now: datetime, i: int, **kw: object) -> AuditEvent:
    fields: dict[str, object] = {
        "ts": now + timedelta(seconds=i),
        "event_id": f"ev-{i}",
        "stage": "permission",
        "actor": f"slack:T1:U{i % 3}",
        "channel": "slack:T1:C1",
        "tool": "logs" if i % 2 else "disk_usage",
        "decision": "allow",
        "reason": "allowed_by_user",
        "detail": {"i": i, "nested": {"b": [1, 2], "a": "x"}},
        "args_hash": f"args-{i}",
        "latency_ms": 0.25 * i,
    }
    fields.update(kw)
    return AuditEvent(**fields)  # type: ignore[arg-type]


async def fill_log(db: Database, now: datetime, n: int = 10) -> None:
    await db.audit.append_many([sample_event(now, i) for i in range(n // 2)])
    for i in range(n // 2, n):
        await db.audit.append(sample_event(now, i))


def tamper(path: Path, *statements: str) -> None:
    """Run `statements` on the file as an attacker with write access would: first dropping
    the trigger that refuses rows not linked to the chain (reopening puts it back)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_link")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


async def old_database(path: Path, cipher: FieldCipher, now: datetime, n: int = 6) -> None:
    """A file as the code before migration 0003 left it: fmt 1 rows and a signed anchor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    rows = build_rows([sample_event(now, i) for i in range(n)], 0, GENESIS_HASH, None)
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode = WAL")
        await apply_migrations(conn, load_migrations()[:2])
        await conn.executemany(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row[:14] for row in rows],
        )
        key = cipher.derive_keys(AUDIT_MAC_PURPOSE)[0]
        seq, digest = rows[-1][0], rows[-1][13]
        await conn.execute(
            "INSERT INTO audit_anchor (id, seq, hash, mac) VALUES (1, ?, ?, ?)",
            (seq, digest, seal(key, "anchor", seq, digest)),
        )
