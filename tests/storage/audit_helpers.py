"""Helpers for the audit tests: sample events, filling a log, editing the file behind its back."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from storage import AuditEvent, Database

__all__ = ["fill_log", "sample_event", "tamper"]


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
