"""Runs: start, finish, live listing, per-user history and budgets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from storage import Database


async def test_start_finish_and_live(db: Database, now: datetime) -> None:
    """A started run is live until finished, once."""
    run = await db.runs.start(run_id="r1", requester="u1", tool="logs", now=now)
    assert (run.status, run.finished_at, run.cpu_seconds) == ("running", None, 0.0)
    assert [r.run_id for r in await db.runs.live()] == ["r1"]
    end = now + timedelta(seconds=3)
    finished = await db.runs.finish(
        "r1", status="ok", exit_code=0, duration_ms=3000.0, cpu_seconds=1.5, now=end
    )
    assert finished is True
    assert (
        await db.runs.finish(
            "r1", status="ok", exit_code=0, duration_ms=1.0, cpu_seconds=1.0, now=end
        )
        is False
    )
    assert await db.runs.live() == []
    stored = await db.runs.get("r1")
    assert stored is not None
    assert (stored.status, stored.exit_code, stored.duration_ms, stored.cpu_seconds) == (
        "ok",
        0,
        3000.0,
        1.5,
    )
    assert stored.finished_at == end


async def test_finish_needs_final_status(db: Database, now: datetime) -> None:
    """'running' is not a way to finish."""
    await db.runs.start(run_id="r1", requester="u1", tool="t", now=now)
    with pytest.raises(ValueError, match="final"):
        await db.runs.finish(
            "r1", status="running", exit_code=None, duration_ms=0, cpu_seconds=0, now=now
        )


async def test_budgets_and_history(db: Database, now: datetime) -> None:
    """CPU seconds and run counts are summed per user from a point in time."""
    for i, (user, cpu) in enumerate([("u1", 1.0), ("u1", 2.5), ("u2", 9.0), ("u1", 4.0)]):
        at = now + timedelta(minutes=i)
        await db.runs.start(run_id=f"r{i}", requester=user, tool="t", now=at)
        await db.runs.finish(
            f"r{i}", status="ok", exit_code=0, duration_ms=1, cpu_seconds=cpu, now=at
        )
    await db.runs.start(run_id="live", requester="u1", tool="t", now=now + timedelta(minutes=9))
    assert await db.runs.cpu_seconds_since("u1", now) == 7.5
    assert await db.runs.cpu_seconds_since("u1", now + timedelta(minutes=1)) == 6.5
    assert await db.runs.cpu_seconds_since("nobody", now) == 0.0
    assert await db.runs.count_since("u1", now) == 4
    assert await db.runs.count_since("u1", now + timedelta(minutes=2)) == 2
    assert [r.run_id for r in await db.runs.for_user("u1", 2)] == ["live", "r3"]


async def test_abandon_live_after_restart(db: Database, now: datetime) -> None:
    """Runs left running by a dead process are marked interrupted."""
    await db.runs.start(run_id="r1", requester="u1", tool="t", now=now)
    assert await db.runs.abandon_live(now) == 1
    assert await db.runs.live() == []
    stored = await db.runs.get("r1")
    assert stored is not None
    assert stored.status == "interrupted"


async def test_run_links_to_approval(db: Database, now: datetime) -> None:
    """A run may reference its approval; an unknown approval id is refused."""
    from storage import ConstraintError

    with pytest.raises(ConstraintError):
        await db.runs.start(run_id="r1", approval_id=42, requester="u", tool="t", now=now)


async def test_purge_keeps_live_and_recent_runs(db: Database, now: datetime) -> None:
    """Purging drops old finished runs only."""
    await db.runs.start(run_id="old", requester="u", tool="t", now=now)
    await db.runs.finish("old", status="ok", exit_code=0, duration_ms=1, cpu_seconds=1, now=now)
    await db.runs.start(run_id="old-live", requester="u", tool="t", now=now)
    await db.runs.start(run_id="new", requester="u", tool="t", now=now + timedelta(days=2))
    assert await db.runs.purge(now + timedelta(days=1)) == 1
    assert await db.runs.get("old") is None
    assert await db.runs.get("old-live") is not None
    assert await db.runs.get("new") is not None
