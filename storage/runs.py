"""Runs: each sandbox execution, for live listing, history and the CPU-second budget."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage._sql import Sql
from storage._time import from_iso, maybe_from_iso, to_iso

__all__ = ["Run", "Runs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One execution of a tool."""

    run_id: str
    approval_id: int | None
    requester: str
    tool: str
    started_at: datetime
    status: str  # "running" while live; then whatever the caller finished it with
    finished_at: datetime | None
    exit_code: int | None
    duration_ms: float | None
    cpu_seconds: float


def _row(row: sqlite3.Row) -> Run:
    return Run(
        run_id=row["run_id"],
        approval_id=row["approval_id"],
        requester=row["requester"],
        tool=row["tool"],
        started_at=from_iso(row["started_at"]),
        status=row["status"],
        finished_at=maybe_from_iso(row["finished_at"]),
        exit_code=row["exit_code"],
        duration_ms=row["duration_ms"],
        cpu_seconds=row["cpu_seconds"],
    )


class Runs:
    """Repository of runs."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def start(
        self,
        *,
        run_id: str,
        approval_id: int | None = None,
        requester: str,
        tool: str,
        now: datetime,
    ) -> Run:
        """Record a run that has just started."""
        row = await self._sql.fetchone(
            "runs.start",
            "INSERT INTO runs (run_id, approval_id, requester, tool, started_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING *",
            (run_id, approval_id, requester, tool, to_iso(now)),
        )
        assert row is not None
        return _row(row)

    async def finish(
        self,
        run_id: str,
        *,
        status: str,
        exit_code: int | None,
        duration_ms: float,
        cpu_seconds: float,
        now: datetime,
    ) -> bool:
        """Record how a live run ended; False if it was unknown or already finished."""
        if status == "running":
            raise ValueError("finish() needs a final status, not 'running'")
        changed = await self._sql.execute(
            "runs.finish",
            "UPDATE runs SET status = ?, exit_code = ?, duration_ms = ?, cpu_seconds = ?,"
            " finished_at = ? WHERE run_id = ? AND status = 'running'",
            (status, exit_code, float(duration_ms), float(cpu_seconds), to_iso(now), run_id),
        )
        return changed == 1

    async def get(self, run_id: str) -> Run | None:
        """The run with this id."""
        row = await self._sql.fetchone("runs.get", "SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return None if row is None else _row(row)

    async def for_user(self, key: str, limit: int = 20) -> list[Run]:
        """A user's most recent runs, newest first."""
        rows = await self._sql.fetchall(
            "runs.for_user",
            "SELECT * FROM runs WHERE requester = ? ORDER BY started_at DESC, rowid DESC LIMIT ?",
            (key, limit),
        )
        return [_row(row) for row in rows]

    async def live(self) -> list[Run]:
        """Runs still marked running, oldest first."""
        rows = await self._sql.fetchall(
            "runs.live", "SELECT * FROM runs WHERE status = 'running' ORDER BY started_at, rowid"
        )
        return [_row(row) for row in rows]

    async def abandon_live(self, now: datetime) -> int:
        """At start-up: mark runs left 'running' by a previous process as 'interrupted'."""
        return await self._sql.execute(
            "runs.abandon_live",
            "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'",
            (to_iso(now),),
        )

    async def cpu_seconds_since(self, key: str, since: datetime) -> float:
        """CPU seconds used by a user's runs that finished at or after `since`."""
        row = await self._sql.fetchone(
            "runs.cpu_seconds_since",
            "SELECT total(cpu_seconds) FROM runs WHERE requester = ? AND finished_at >= ?",
            (key, to_iso(since)),
        )
        return float(row[0]) if row is not None else 0.0

    async def count_since(self, key: str, since: datetime) -> int:
        """Runs a user started at or after `since`."""
        row = await self._sql.fetchone(
            "runs.count_since",
            "SELECT count(*) FROM runs WHERE requester = ? AND started_at >= ?",
            (key, to_iso(since)),
        )
        return int(row[0]) if row is not None else 0

    async def purge(self, older_than: datetime) -> int:
        """Delete finished runs that started before `older_than`; return how many."""
        return await self._sql.execute(
            "runs.purge",
            "DELETE FROM runs WHERE started_at < ? AND status <> 'running'",
            (to_iso(older_than),),
        )
