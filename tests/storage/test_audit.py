"""The audit log: linked appends, group commit, failures, tail and export."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from storage import (
    GENESIS_HASH,
    Database,
    FieldCipher,
    StorageError,
)
from tests.storage.audit_helpers import fill_log, sample_event, tamper


async def test_append_links_rows(db: Database, now: datetime) -> None:
    """Rows get consecutive seqs, each pointing at the previous hash, from genesis."""
    rows = await db.audit.append_many([sample_event(now, i) for i in range(3)])
    single = await db.audit.append(sample_event(now, 3))
    assert [r.seq for r in [*rows, single]] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS_HASH
    assert rows[1].prev_hash == rows[0].hash
    assert single.prev_hash == rows[2].hash
    assert await db.audit.head() == (4, single.hash)
    assert single.detail == {"i": 3, "nested": {"a": "x", "b": [1, 2]}}
    assert await db.audit.tail(4) == [*rows, single]


async def test_append_nothing_is_a_no_op(db: Database) -> None:
    """An empty batch writes nothing."""
    assert await db.audit.append_many([]) == []
    assert await db.audit.head() == (0, GENESIS_HASH)


async def test_head_survives_reopen(db_path: Path, cipher: FieldCipher, now: datetime) -> None:
    """After a restart new rows continue the same chain."""
    first = await Database.open(db_path, cipher=cipher)
    await fill_log(first, now, 4)
    head = await first.audit.head()
    await first.close()
    second = await Database.open(db_path, cipher=cipher)
    try:
        assert await second.audit.head() == head
        row = await second.audit.append(sample_event(now, 99))
        assert (row.seq, row.prev_hash) == (head[0] + 1, head[1])
        assert (await second.audit.verify()).ok
    finally:
        await second.close()


async def test_second_writer_is_followed_not_forked(db_path: Path, now: datetime) -> None:
    """If another connection appended meanwhile, the next append builds on its head."""
    one = await Database.open(db_path)
    two = await Database.open(db_path)
    try:
        await one.audit.append(sample_event(now, 1))
        await two.audit.append(sample_event(now, 2))  # two's head was stale (genesis)
        await one.audit.append(sample_event(now, 3))
        result = await one.audit.verify()
        assert (result.ok, result.rows_checked) == (True, 3)
    finally:
        await one.close()
        await two.close()


async def test_unserialisable_detail_is_refused(db: Database, now: datetime) -> None:
    """A detail that is not JSON-safe fails (StorageError) and leaves the chain untouched."""
    with pytest.raises(StorageError, match="JSON"):
        await db.audit.append_many(
            [sample_event(now, 0), sample_event(now, 1, detail={"x": object()})]
        )
    assert await db.audit.head() == (0, GENESIS_HASH)
    assert await db.audit.tail(10) == []


@pytest.mark.parametrize("size", [3, 600], ids=["one_statement", "several_statements"])
async def test_failed_batch_stores_nothing(
    db: Database, db_path: Path, now: datetime, size: int
) -> None:
    """When one row of a batch is refused, no row of it is kept and the head does not move."""
    await db.audit.append(sample_event(now, 0))
    head = await db.audit.head()
    tamper(
        db_path,
        f"CREATE TRIGGER refuse BEFORE INSERT ON audit_log WHEN NEW.event_id = 'ev-{size - 1}'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    with pytest.raises(StorageError):
        await db.audit.append_many([sample_event(now, i) for i in range(1, size + 1)])
    assert await db.audit.head() == head
    assert [r.seq for r in await db.audit.tail(1000)] == [1]
    tamper(db_path, "DROP TRIGGER refuse")
    assert (await db.audit.append(sample_event(now, 4))).seq == 2
    assert (await db.audit.verify()).ok


async def test_concurrent_appends_are_grouped_yet_contiguous(db: Database, now: datetime) -> None:
    """Many concurrent calls all land, each call's rows contiguous; bad ones fail alone."""

    async def call(i: int) -> list[int]:
        events = [sample_event(now, 100 * i + k) for k in range(1 + i % 4)]
        if i == 7:
            events.append(sample_event(now, 999, detail={"bad": {1, 2}}))
        if i == 11:
            events.append(sample_event(now, 998, ts=now.replace(tzinfo=None)))
        return [row.seq for row in await db.audit.append_many(events)]

    results = await asyncio.gather(*(call(i) for i in range(40)), return_exceptions=True)
    failures = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failures == [7, 11]
    assert isinstance(results[7], StorageError)
    assert isinstance(results[11], ValueError)
    stored = {row.seq: row.event_id for row in await db.audit.tail(1000)}
    for i, seqs in enumerate(results):
        if i in (7, 11):
            continue
        assert isinstance(seqs, list)
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert [stored[s] for s in seqs] == [f"ev-{100 * i + k}" for k in range(len(seqs))]
    total = sum(1 + i % 4 for i in range(40) if i not in (7, 11))
    assert len(stored) == total
    result = await db.audit.verify()
    assert (result.ok, result.rows_checked) == (True, total)


TAIL_FILTERS: list[tuple[str, dict[str, str], Callable[[int], bool]]] = [
    ("all", {}, lambda i: True),
    ("actor", {"actor": "slack:T1:U1"}, lambda i: i % 3 == 1),
    ("tool", {"tool": "logs"}, lambda i: i % 2 == 1),
    ("both", {"actor": "slack:T1:U1", "tool": "logs"}, lambda i: i % 3 == 1 and i % 2 == 1),
]


@pytest.mark.parametrize(
    ("filters", "keep"), [t[1:] for t in TAIL_FILTERS], ids=[t[0] for t in TAIL_FILTERS]
)
async def test_tail_filters(
    db: Database, now: datetime, filters: dict[str, str], keep: Callable[[int], bool]
) -> None:
    """tail(n) returns the last n matching rows, oldest first."""
    await fill_log(db, now, 12)
    expected = [i for i in range(12) if keep(i)][-3:]
    rows = await db.audit.tail(3, **filters)
    assert [r.event_id for r in rows] == [f"ev-{i}" for i in expected]


async def test_export_jsonl(db: Database, now: datetime) -> None:
    """Export writes one parseable JSON object per row, in seq order, with hashes."""
    await fill_log(db, now, 5)
    out = io.StringIO()
    assert await db.audit.export_jsonl(out) == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert lines[2]["detail"] == {"i": 2, "nested": {"a": "x", "b": [1, 2]}}


async def test_rows_iterates_in_batches(db: Database, now: datetime) -> None:
    """Iterating more rows than one batch yields each exactly once, in order."""
    await db.audit.append_many([sample_event(now, i) for i in range(2500)])
    seqs = [row.seq async for row in db.audit.rows()]
    assert seqs == list(range(1, 2501))
    assert (await db.audit.verify()).rows_checked == 2500
