"""Audit log throughput: rows/s with append_many (8 rows per call) and with single appends.

Also times one "message" as the pipeline writes it: an idempotency claim plus one
append_many of 8 rows. Each case runs with the signed head log off and on, side by
side in one run (alternating rounds, the median of each kept), so the head log's cost is a
ratio measured under the same load. Run:
`.venv/bin/python bench/storage_audit.py [seconds-per-case]`.
The target is 500 messages/s on 2 cores; the head log may cost at most 10%.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import AuditEvent, Database, FieldCipher
from storage.headlog import HeadLog

STAGES = [
    "dedupe",
    "identity",
    "ratelimit",
    "parse",
    "injection",
    "permission",
    "approval",
    "execute",
]


def _events(i: int) -> list[AuditEvent]:
    now = datetime.now(UTC)
    return [
        AuditEvent(
            ts=now,
            event_id=f"slack:Ev{i}",
            stage=stage,
            actor="slack:T0123:U0456",
            channel="slack:T0123:C0789",
            tool="logs",
            decision="allow",
            reason="ok",
            detail={"service": "api", "lines": 100, "stage_index": n},
            args_hash="3f" * 32,
            latency_ms=0.123,
        )
        for n, stage in enumerate(STAGES)
    ]


async def _rate(
    seconds: float, step: Callable[[int], Awaitable[int]], offset: int
) -> tuple[float, float]:
    calls = rows = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        rows += await step(offset + calls)
        calls += 1
    elapsed = time.perf_counter() - start
    return calls / elapsed, rows / elapsed


def _line_cost(n: int = 20_000) -> float:
    """Microseconds per head line as the audit writer appends it (median of 3 runs)."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        log = HeadLog(Path(tmp) / "h.audit-head", [b"k" * 32])
        with log.locked():
            log.append(kind="start", db="ab" * 12, seq=0, digest="0" * 64, ts="t", create=True)
        for _ in range(3):
            start = time.perf_counter()
            for i in range(n):
                with log.locked():
                    log.ready()
                    log.append(kind="head", db="ab" * 12, seq=i, digest="f" * 64, ts="t")
            runs.append((time.perf_counter() - start) / n * 1e6)
        log.close()
    return statistics.median(runs)


async def _open(tmp: Path, name: str, head_log: bool) -> Database:
    db = await Database.open(
        tmp / f"{name}.db",
        cipher=FieldCipher(FieldCipher.generate_key()),
        head_log=tmp / f"{name}.audit-head" if head_log else None,
    )
    await db.audit.begin_head_log(now=datetime.now(UTC))
    return db


async def main(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {
            "off": await _open(Path(tmp), "off", False),
            "on": await _open(Path(tmp), "on", True),
        }
        try:
            batches = [_events(i) for i in range(64)]

            def cases(db: Database) -> dict[str, Callable[[int], Awaitable[int]]]:
                async def many(i: int) -> int:
                    await db.audit.append_many(batches[i % 64])
                    return 8

                async def single(i: int) -> int:
                    await db.audit.append(batches[i % 64][i % 8])
                    return 1

                async def message(i: int) -> int:
                    await db.idempotency.claim(f"slack:Ev{i}", datetime.now(UTC))
                    await db.audit.append_many(batches[i % 64])
                    return 8

                async def message_singles(i: int) -> int:
                    await db.idempotency.claim(f"slack:Ev-s{i}", datetime.now(UTC))
                    for event in batches[i % 64]:
                        await db.audit.append(event)
                    return 8

                async def concurrent(i: int) -> int:
                    await asyncio.gather(*(message(i * 1000 + k) for k in range(100)))
                    return 800

                return {
                    "audit.append_many (8 rows/call)": many,
                    "audit.append (1 row/call)": single,
                    "message: claim + append_many(8)": message,
                    "message: claim + 8 x append": message_singles,
                    "100 concurrent messages (group commit)": concurrent,
                }

            rounds = 5
            print(
                f"| case (calls/s; median of {rounds} alternating rounds of {seconds:g} s)"
                " | head log off | head log on | on/off |"
            )
            print("|---|---:|---:|---:|")
            per_mode = {mode: cases(db) for mode, db in dbs.items()}
            for n, name in enumerate(per_mode["off"]):
                got: dict[str, list[float]] = {"off": [], "on": []}
                for rnd in range(rounds):
                    for mode in ("off", "on") if rnd % 2 == 0 else ("on", "off"):
                        offset = ((n * rounds + rnd) * 2 + (mode == "on")) * 1_000_000
                        rate, _ = await _rate(seconds, per_mode[mode][name], offset)
                        got[mode].append(rate)
                off, on = statistics.median(got["off"]), statistics.median(got["on"])
                print(f"| {name} | {off:,.0f} | {on:,.0f} | {on / off:.2f} |")
            print(
                f"head log, one signed line (lock, write, sign; fsync in the background): {_line_cost():.1f} us"
            )
            for mode, db in dbs.items():
                start = time.perf_counter()
                result = await db.audit.verify()
                elapsed = time.perf_counter() - start
                print(
                    f"verify (head log {mode}): {result.rows_checked} rows ok={result.ok} in"
                    f" {elapsed:.2f} s ({result.rows_checked / elapsed:,.0f} rows/s)"
                )
        finally:
            for db in dbs.values():
                await db.close()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
