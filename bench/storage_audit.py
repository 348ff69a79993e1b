"""Audit log throughput: rows/s with append_many (8 rows per call) and with single appends.

Also times one "message" as the pipeline writes it: an idempotency claim plus one
append_many of 8 rows. Run: `.venv/bin/python bench/storage_audit.py [seconds-per-case]`.
The target is 500 messages/s on 2 cores.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import AuditEvent, Database, FieldCipher

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


async def _case(name: str, seconds: float, step: Callable[[int], Awaitable[int]]) -> None:
    calls = rows = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        rows += await step(calls)
        calls += 1
    elapsed = time.perf_counter() - start
    print(f"{name:<44} {calls / elapsed:>10.0f} calls/s {rows / elapsed:>10.0f} rows/s")


async def main(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(
            Path(tmp) / "bench.db", cipher=FieldCipher(FieldCipher.generate_key())
        )
        try:
            batches = [_events(i) for i in range(64)]

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

            await _case("audit.append_many (8 rows/call)", seconds, many)
            await _case("audit.append (1 row/call)", seconds, single)
            await _case("message: claim + append_many(8)", seconds, message)
            await _case("message: claim + 8 x append", seconds, message_singles)

            async def concurrent() -> None:
                n = 2000
                start = time.perf_counter()
                await asyncio.gather(*(message(10_000_000 + i) for i in range(n)))
                elapsed = time.perf_counter() - start
                print(f"{'2000 concurrent messages (gather)':<44} {n / elapsed:>10.0f} msgs/s")

            await concurrent()
            start = time.perf_counter()
            result = await db.audit.verify()
            elapsed = time.perf_counter() - start
            print(
                f"verify: {result.rows_checked} rows ok={result.ok} in {elapsed:.2f} s"
                f" ({result.rows_checked / elapsed:.0f} rows/s)"
            )
        finally:
            await db.close()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
