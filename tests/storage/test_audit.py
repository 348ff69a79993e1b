"""The hash-chained audit log: appends, verification against tampering, purge with checkpoint."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from storage import (
    GENESIS_HASH,
    AuditEvent,
    AuditIntegrityError,
    Database,
    FieldCipher,
    StorageError,
)
from storage.audit_chain import row_hash


def _event(now: datetime, i: int, **kw: object) -> AuditEvent:
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


async def _fill(db: Database, now: datetime, n: int = 10) -> None:
    await db.audit.append_many([_event(now, i) for i in range(n // 2)])
    for i in range(n // 2, n):
        await db.audit.append(_event(now, i))


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


async def test_append_links_rows(db: Database, now: datetime) -> None:
    """Rows get consecutive seqs, each pointing at the previous hash, from genesis."""
    rows = await db.audit.append_many([_event(now, i) for i in range(3)])
    single = await db.audit.append(_event(now, 3))
    assert [r.seq for r in [*rows, single]] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS_HASH
    assert rows[1].prev_hash == rows[0].hash
    assert single.prev_hash == rows[2].hash
    assert db.audit.head == (4, single.hash)
    assert single.detail == {"i": 3, "nested": {"a": "x", "b": [1, 2]}}
    assert await db.audit.tail(4) == [*rows, single]


async def test_append_nothing_is_a_no_op(db: Database) -> None:
    """An empty batch writes nothing."""
    assert await db.audit.append_many([]) == []
    assert db.audit.head == (0, GENESIS_HASH)


async def test_head_survives_reopen(db_path: Path, cipher: FieldCipher, now: datetime) -> None:
    """After a restart new rows continue the same chain."""
    first = await Database.open(db_path, cipher=cipher)
    await _fill(first, now, 4)
    head = first.audit.head
    await first.close()
    second = await Database.open(db_path, cipher=cipher)
    try:
        assert second.audit.head == head
        row = await second.audit.append(_event(now, 99))
        assert (row.seq, row.prev_hash) == (head[0] + 1, head[1])
        assert (await second.audit.verify()).ok
    finally:
        await second.close()


async def test_second_writer_is_followed_not_forked(db_path: Path, now: datetime) -> None:
    """If another connection appended meanwhile, the next append builds on its head."""
    one = await Database.open(db_path)
    two = await Database.open(db_path)
    try:
        await one.audit.append(_event(now, 1))
        await two.audit.append(_event(now, 2))  # two's head was stale (genesis)
        await one.audit.append(_event(now, 3))
        result = await one.audit.verify()
        assert (result.ok, result.rows_checked) == (True, 3)
    finally:
        await one.close()
        await two.close()


async def test_unserialisable_detail_is_refused(db: Database, now: datetime) -> None:
    """A detail that is not JSON-safe fails (StorageError) and leaves the chain untouched."""
    with pytest.raises(StorageError, match="JSON"):
        await db.audit.append_many([_event(now, 0), _event(now, 1, detail={"x": object()})])
    assert db.audit.head == (0, GENESIS_HASH)
    assert await db.audit.tail(10) == []


@pytest.mark.parametrize("size", [3, 600], ids=["one_statement", "several_statements"])
async def test_failed_batch_stores_nothing(
    db: Database, db_path: Path, now: datetime, size: int
) -> None:
    """When one row of a batch is refused, no row of it is kept and the head does not move."""
    await db.audit.append(_event(now, 0))
    head = db.audit.head
    _tamper(
        db_path,
        f"CREATE TRIGGER refuse BEFORE INSERT ON audit_log WHEN NEW.event_id = 'ev-{size - 1}'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    with pytest.raises(StorageError):
        await db.audit.append_many([_event(now, i) for i in range(1, size + 1)])
    assert db.audit.head == head
    assert [r.seq for r in await db.audit.tail(1000)] == [1]
    _tamper(db_path, "DROP TRIGGER refuse")
    assert (await db.audit.append(_event(now, 4))).seq == 2
    assert (await db.audit.verify()).ok


async def test_concurrent_appends_are_grouped_yet_contiguous(db: Database, now: datetime) -> None:
    """Many concurrent calls all land, each call's rows contiguous; bad ones fail alone."""

    async def call(i: int) -> list[int]:
        events = [_event(now, 100 * i + k) for k in range(1 + i % 4)]
        if i == 7:
            events.append(_event(now, 999, detail={"bad": {1, 2}}))
        if i == 11:
            events.append(_event(now, 998, ts=now.replace(tzinfo=None)))
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


async def test_verify_passes_on_intact_chain(db: Database, now: datetime) -> None:
    """An untouched log verifies, counting every row."""
    await _fill(db, now, 10)
    result = await db.audit.verify()
    assert (result.ok, result.rows_checked, result.first_bad_seq, result.problem) == (
        True,
        10,
        None,
        "",
    )


def _forged_insert(seq: int) -> str:
    return (
        "INSERT INTO audit_log (seq, ts, event_id, stage, actor, channel, tool, decision, reason,"
        " detail, args_hash, latency_ms, prev_hash, hash)"
        f" SELECT {seq}, ts, 'forged', stage, actor, channel, tool, 'allow', reason, detail,"
        " args_hash, latency_ms, prev_hash, hash FROM audit_log WHERE seq = 4"
    )


TAMPERING: list[tuple[str, list[str], int, str]] = [
    (
        "edited_decision",
        ["UPDATE audit_log SET decision = 'deny' WHERE seq = 5"],
        5,
        "hash_mismatch",
    ),
    ("edited_detail", ["UPDATE audit_log SET detail = '{}' WHERE seq = 2"], 2, "hash_mismatch"),
    ("edited_first", ["UPDATE audit_log SET actor = 'x' WHERE seq = 1"], 1, "hash_mismatch"),
    ("deleted_middle", ["DELETE FROM audit_log WHERE seq = 6"], 6, "seq_gap"),
    ("deleted_first", ["DELETE FROM audit_log WHERE seq = 1"], 1, "seq_gap"),
    (
        "swapped_rows",
        [
            "UPDATE audit_log SET seq = -1 WHERE seq = 3",
            "UPDATE audit_log SET seq = 3 WHERE seq = 4",
            "UPDATE audit_log SET seq = 4 WHERE seq = -1",
        ],
        3,
        "chain_break",
    ),
    (
        "inserted_row_shifting_later_ones",
        [
            "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 5",
            "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000",
            _forged_insert(5),
        ],
        5,
        "chain_break",
    ),
    ("edited_reason", ["UPDATE audit_log SET reason = 'ok' WHERE seq = 7"], 7, "hash_mismatch"),
]


@pytest.mark.parametrize(
    ("statements", "bad_seq", "problem"),
    [t[1:] for t in TAMPERING],
    ids=[t[0] for t in TAMPERING],
)
async def test_verify_detects_tampering(
    db: Database, db_path: Path, now: datetime, statements: list[str], bad_seq: int, problem: str
) -> None:
    """Edited, deleted, swapped or inserted rows are reported at the first bad seq."""
    await _fill(db, now, 10)
    _tamper(db_path, *statements)
    result = await db.audit.verify()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, bad_seq, problem)
    assert result.rows_checked == bad_seq - 1


async def test_verify_detects_a_consistently_rehashed_insert(
    db: Database, db_path: Path, now: datetime
) -> None:
    """A forged row with a correct hash of its own still breaks the next row's link."""
    await _fill(db, now, 6)
    rows = await db.audit.tail(6)
    forged_fields = (
        4,
        rows[3].ts.isoformat(timespec="microseconds"),
        "forged",
        "s",
        "",
        "",
        "",
        "allow",
        "ok",
        "{}",
        "",
        0.0,
    )
    forged_hash = row_hash(forged_fields, rows[2].hash)
    _tamper(
        db_path,
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4",
        "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000",
    )
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*forged_fields, rows[2].hash, forged_hash),
        )
    finally:
        conn.close()
    result = await db.audit.verify()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 5, "chain_break")


async def test_verify_detects_truncation_by_this_process(
    db: Database, db_path: Path, now: datetime
) -> None:
    """Rows this process appended that vanished from the end are reported as truncation."""
    await _fill(db, now, 6)
    _tamper(db_path, "DELETE FROM audit_log WHERE seq >= 5")
    result = await db.audit.verify()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 5, "truncated")


async def test_purge_keeps_chain_verifiable(db: Database, now: datetime) -> None:
    """Purging old rows stores a signed checkpoint from which the rest still verifies."""
    await _fill(db, now, 10)
    assert await db.audit.purge_before(now + timedelta(seconds=4), now=now) == 4
    assert await db.audit.checkpoint() is not None
    assert [r.seq for r in await db.audit.tail(100)] == list(range(5, 11))
    result = await db.audit.verify()
    assert (result.ok, result.rows_checked) == (True, 6)
    await db.audit.append(_event(now, 11))
    assert (await db.audit.verify()).ok
    assert await db.audit.purge_before(now + timedelta(seconds=4), now=now) == 0
    assert await db.audit.purge_before(now + timedelta(days=1), now=now) == 7
    result = await db.audit.verify()
    assert (result.ok, result.rows_checked) == (True, 0)
    row = await db.audit.append(_event(now, 12))
    assert row.seq == 12
    assert (await db.audit.verify()).ok


async def test_purge_then_reopen_continues_from_checkpoint(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """With every row purged, a reopened log continues the chain from the checkpoint."""
    first = await Database.open(db_path, cipher=cipher)
    await _fill(first, now, 4)
    head = first.audit.head
    await first.audit.purge_before(now + timedelta(days=1))
    await first.close()
    second = await Database.open(db_path, cipher=cipher)
    try:
        assert second.audit.head == head
        row = await second.audit.append(_event(now, 5))
        assert row.prev_hash == head[1]
        assert (await second.audit.verify()).ok
    finally:
        await second.close()


CHECKPOINT_TAMPERING: list[tuple[str, str, str]] = [
    ("moved_seq", "UPDATE audit_checkpoint SET seq = seq + 1", "checkpoint_bad_signature"),
    (
        "changed_hash",
        "UPDATE audit_checkpoint SET hash = '" + "1" * 64 + "'",
        "checkpoint_bad_signature",
    ),
    ("stripped_mac", "UPDATE audit_checkpoint SET mac = ''", "checkpoint_unsigned"),
]


@pytest.mark.parametrize(
    ("statement", "problem"),
    [t[1:] for t in CHECKPOINT_TAMPERING],
    ids=[t[0] for t in CHECKPOINT_TAMPERING],
)
async def test_checkpoint_tampering_is_detected(
    db: Database, db_path: Path, now: datetime, statement: str, problem: str
) -> None:
    """A checkpoint edited without the key fails verification, and purging refuses to run."""
    await _fill(db, now, 6)
    await db.audit.purge_before(now + timedelta(seconds=3))
    _tamper(db_path, statement)
    result = await db.audit.verify()
    assert (result.ok, result.problem) == (False, problem)
    with pytest.raises(AuditIntegrityError):
        await db.audit.purge_before(now + timedelta(seconds=5))


async def test_checkpoint_signed_but_no_key_given(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """Verifying a signed checkpoint without any key is not reported as ok."""
    first = await Database.open(db_path, cipher=cipher)
    await _fill(first, now, 4)
    await first.audit.purge_before(now + timedelta(seconds=2))
    await first.close()
    keyless = await Database.open(db_path)
    try:
        result = await keyless.audit.verify()
        assert (result.ok, result.problem) == (False, "checkpoint_key_missing")
    finally:
        await keyless.close()


async def test_checkpoint_verifies_after_key_rotation(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """A checkpoint signed with an older key still verifies once a new key is prepended."""
    old_key = FieldCipher.generate_key()
    first = await Database.open(db_path, cipher=FieldCipher(old_key))
    await _fill(first, now, 4)
    await first.audit.purge_before(now + timedelta(seconds=2))
    await first.close()
    rotated = FieldCipher([FieldCipher.generate_key(), old_key])
    second = await Database.open(db_path, cipher=rotated)
    try:
        assert (await second.audit.verify()).ok
    finally:
        await second.close()


async def test_purge_refuses_a_broken_chain(db: Database, db_path: Path, now: datetime) -> None:
    """Evidence of tampering is never purged away."""
    await _fill(db, now, 6)
    _tamper(db_path, "UPDATE audit_log SET decision = 'deny' WHERE seq = 2")
    with pytest.raises(AuditIntegrityError, match="seq 2"):
        await db.audit.purge_before(now + timedelta(seconds=4))
    assert len(await db.audit.tail(100)) == 6


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
    await _fill(db, now, 12)
    expected = [i for i in range(12) if keep(i)][-3:]
    rows = await db.audit.tail(3, **filters)
    assert [r.event_id for r in rows] == [f"ev-{i}" for i in expected]


async def test_export_jsonl(db: Database, now: datetime) -> None:
    """Export writes one parseable JSON object per row, in seq order, with hashes."""
    await _fill(db, now, 5)
    out = io.StringIO()
    assert await db.audit.export_jsonl(out) == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert lines[2]["detail"] == {"i": 2, "nested": {"a": "x", "b": [1, 2]}}


async def test_rows_iterates_in_batches(db: Database, now: datetime) -> None:
    """Iterating more rows than one batch yields each exactly once, in order."""
    await db.audit.append_many([_event(now, i) for i in range(2500)])
    seqs = [row.seq async for row in db.audit.rows()]
    assert seqs == list(range(1, 2501))
    assert (await db.audit.verify()).rows_checked == 2500


async def _reopen(path: Path, cipher: FieldCipher) -> Database:
    return await Database.open(path, cipher=cipher)


def _rewrite_from(path: Path, first: int) -> None:
    """Edit row `first` and re-hash it and every later row, as a forger would."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        rows = conn.execute(
            "SELECT seq, ts, event_id, stage, actor, channel, tool, decision, reason, detail,"
            " args_hash, latency_ms, prev_hash, hash FROM audit_log ORDER BY seq"
        ).fetchall()
        prev = GENESIS_HASH
        for row in rows:
            fields = list(row[:12])
            if fields[0] == first:
                fields[7] = "deny"
            if fields[0] >= first:
                digest = row_hash(fields, prev)
                conn.execute(
                    "UPDATE audit_log SET decision = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    (fields[7], prev, digest, fields[0]),
                )
                prev = digest
            else:
                prev = row[13]
    finally:
        conn.close()


async def test_anchor_detects_truncation_after_restart(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """Rows cut from the end while the bot was down are reported, and reopening keeps the anchor."""
    first = await _reopen(db_path, cipher)
    await _fill(first, now, 8)
    await first.close()
    _tamper(db_path, "DELETE FROM audit_log WHERE seq >= 6")
    second = await _reopen(db_path, cipher)
    try:
        result = await second.audit.verify()
        assert (result.ok, result.first_bad_seq, result.problem) == (False, 6, "truncated")
        with pytest.raises(AuditIntegrityError, match="missing"):
            await second.audit.anchor()  # the evidence stays
        assert (await second.audit.verify()).problem == "truncated"
    finally:
        await second.close()


async def test_anchor_detects_a_rehashed_chain(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """A chain rewritten with correct hashes before the anchor no longer meets the anchor."""
    first = await _reopen(db_path, cipher)
    await _fill(first, now, 8)
    await first.audit.anchor()
    await first.close()
    _rewrite_from(db_path, 3)
    second = await _reopen(db_path, cipher)
    try:
        result = await second.audit.verify()
        assert (result.ok, result.first_bad_seq, result.problem) == (False, 8, "anchor_mismatch")
    finally:
        await second.close()


async def test_removed_anchor_is_reported_not_recreated(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """Deleting the anchor is reported, and opening or closing the database does not hide it."""
    first = await _reopen(db_path, cipher)
    await _fill(first, now, 4)
    await first.close()
    _tamper(db_path, "DELETE FROM audit_anchor")
    second = await _reopen(db_path, cipher)
    await second.close()
    third = await _reopen(db_path, cipher)
    try:
        assert (await third.audit.verify()).problem == "anchor_missing"
    finally:
        await third.close()


ANCHOR_TAMPERING = [
    ("moved_back", "UPDATE audit_anchor SET seq = 2", "anchor_bad_signature"),
    ("stripped_mac", "UPDATE audit_anchor SET mac = ''", "anchor_unsigned"),
]


@pytest.mark.parametrize(
    ("statement", "problem"),
    [t[1:] for t in ANCHOR_TAMPERING],
    ids=[t[0] for t in ANCHOR_TAMPERING],
)
async def test_anchor_tampering_is_detected(
    db_path: Path, cipher: FieldCipher, now: datetime, statement: str, problem: str
) -> None:
    """An anchor edited without the key fails verification."""
    first = await _reopen(db_path, cipher)
    await _fill(first, now, 4)
    await first.close()
    _tamper(db_path, statement)
    second = await _reopen(db_path, cipher)
    try:
        assert (await second.audit.verify()).problem == problem
    finally:
        await second.close()


async def test_anchor_moves_forward_with_appends(db: Database, now: datetime) -> None:
    """anchor() records the current head; verify passes with it in place."""
    await _fill(db, now, 3)
    assert await db.audit.anchor() == db.audit.head
    await _fill(db, now, 3)
    assert (await db.audit.verify()).ok
