"""Audit verification: edited, deleted, swapped, inserted and truncated rows; the signed anchor."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from storage import (
    GENESIS_HASH,
    AuditIntegrityError,
    Database,
    FieldCipher,
)
from storage.audit_chain import Digester, row_hash_v2
from tests.storage.audit_helpers import fill_log, tamper


async def test_verify_passes_on_intact_chain(db: Database, now: datetime) -> None:
    """An untouched log verifies, counting every row."""
    await fill_log(db, now, 10)
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
    await fill_log(db, now, 10)
    tamper(db_path, *statements)
    result = await db.audit.verify()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, bad_seq, problem)
    assert result.rows_checked == bad_seq - 1


async def test_verify_detects_a_consistently_rehashed_insert(
    db: Database, db_path: Path, now: datetime
) -> None:
    """A forged row with a correct hash of its own still breaks the next row's link."""
    await fill_log(db, now, 6)
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
    assert db.audit.digester is not None
    forged_hash = row_hash_v2(forged_fields, rows[2].hash, db.audit.digester)
    tamper(
        db_path,
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4",
        "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000",
    )
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 2)",
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
    await fill_log(db, now, 6)
    tamper(db_path, "DELETE FROM audit_log WHERE seq >= 5")
    result = await db.audit.verify()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 5, "truncated")


async def _reopen(path: Path, cipher: FieldCipher) -> Database:
    return await Database.open(path, cipher=cipher)


def _rewrite_from(path: Path, first: int, digest_of: Digester) -> None:
    """Edit row `first` and re-hash it and every later row, as a forger holding the
    pseudonym key would (the signed anchor still catches it)."""
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
                digest = row_hash_v2(fields, prev, digest_of)
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
    await fill_log(first, now, 8)
    await first.close()
    tamper(db_path, "DELETE FROM audit_log WHERE seq >= 6")
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
    await fill_log(first, now, 8)
    await first.audit.anchor()
    assert first.audit.digester is not None
    await first.close()
    _rewrite_from(db_path, 3, first.audit.digester)
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
    await fill_log(first, now, 4)
    await first.close()
    tamper(db_path, "DELETE FROM audit_anchor")
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
    await fill_log(first, now, 4)
    await first.close()
    tamper(db_path, statement)
    second = await _reopen(db_path, cipher)
    try:
        assert (await second.audit.verify()).problem == problem
    finally:
        await second.close()


async def test_anchor_moves_forward_with_appends(db: Database, now: datetime) -> None:
    """anchor() records the current head; verify passes with it in place."""
    await fill_log(db, now, 3)
    assert await db.audit.anchor() == await db.audit.head()
    await fill_log(db, now, 3)
    assert (await db.audit.verify()).ok
