"""Audit row formats: old fmt 1 rows after migration 0003, re-chaining, pseudonyms, the keyring."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from storage import AuditIntegrityError, Database, FieldCipher, StorageError
from storage.audit_chain import Digester
from storage.db import AUDIT_MAC_PURPOSE
from storage.forget import forget_user
from tests.storage.audit_helpers import old_database, sample_event, tamper

USER = "slack:T1:U1"


async def test_old_rows_verify_next_to_new_ones(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """After migrating, fmt 1 rows verify as they are and new rows continue the chain in fmt 2."""
    await old_database(db_path, cipher, now)
    db = await Database.open(db_path, cipher=cipher)
    try:
        assert await db.schema_version() == 4
        assert (await db.audit.verify()).ok
        await db.audit.append(sample_event(now, 10))
        result = await db.audit.verify()
        assert (result.ok, result.rows_checked) == (True, 7)
        formats = await db.sql.fetchall("t", "SELECT fmt FROM audit_log ORDER BY seq")
        assert [r[0] for r in formats] == [1, 1, 1, 1, 1, 1, 2]
    finally:
        await db.close()
    tamper(db_path, "UPDATE audit_log SET actor = 'x' WHERE seq = 2")
    again = await Database.open(db_path, cipher=cipher)
    try:
        result = await again.audit.verify()
        assert (result.ok, result.first_bad_seq, result.problem) == (False, 2, "hash_mismatch")
    finally:
        await again.close()


async def test_forgetting_a_user_of_old_rows_rechains_first(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """Old rows naming the user are re-chained to fmt 2, then pseudonymised; verify passes."""
    await old_database(db_path, cipher, now)
    db = await Database.open(db_path, cipher=cipher)
    try:
        await db.audit.append(sample_event(now, 10, actor=USER))
        result = await forget_user(db, USER, now=now + timedelta(hours=1))
        assert result.audit_rows == 3  # seq 2 and 5 (U1 = i % 3 == 1) and the new row
        assert (await db.audit.verify()).ok
        rows = await db.audit.tail(20)
        upgrade = [r for r in rows if r.reason == "format_upgraded"]
        assert len(upgrade) == 1
        assert upgrade[0].detail["rows"] == 7
        assert {r.actor for r in rows} >= {result.pseudonym}
        assert USER not in {r.actor for r in rows}
    finally:
        await db.close()
    conn = sqlite3.connect(db_path)
    try:
        assert {r[0] for r in conn.execute("SELECT fmt FROM audit_log")} == {2}
        assert USER not in "\n".join(conn.iterdump())
    finally:
        conn.close()


async def test_broken_old_chain_is_not_rechained(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """A chain that does not verify is kept as evidence: no re-chaining, no forgetting."""
    await old_database(db_path, cipher, now)
    tamper(db_path, "UPDATE audit_log SET decision = 'deny' WHERE seq = 3")
    db = await Database.open(db_path, cipher=cipher)
    try:
        with pytest.raises(AuditIntegrityError):
            await forget_user(db, USER, now=now)
        formats = await db.sql.fetchall("t", "SELECT DISTINCT fmt FROM audit_log")
        assert [r[0] for r in formats] == [1]
    finally:
        await db.close()


def test_a_pseudonym_digests_like_the_value_it_replaces() -> None:
    """The pseudonym of a value has the value's digest; other values and other keys differ."""
    one, two = Digester(b"k" * 32), Digester(b"j" * 32)
    pseudonym = one.pseudonym(USER)
    assert pseudonym.startswith("forgotten:")
    assert USER not in pseudonym
    assert one(pseudonym) == one(USER)
    assert one("slack:T1:U2") != one(USER)
    assert two.pseudonym(USER) != pseudonym
    assert one("forgotten:nothex") != one(USER)


async def test_verify_without_the_pseudonym_key_names_the_problem(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """fmt 2 rows cannot be checked without the pseudonym key, and verify says so."""
    keys = cipher.derive_keys(AUDIT_MAC_PURPOSE)
    first = await Database.open(db_path, cipher=cipher)
    await first.audit.append(sample_event(now, 1))
    await first.close()
    other = FieldCipher(FieldCipher.generate_key())
    second = await Database.open(db_path, cipher=other, audit_keys=keys)
    try:
        result = await second.audit.verify()
        assert (result.ok, result.first_bad_seq, result.problem) == (
            False,
            1,
            "pseudonym_key_missing",
        )
    finally:
        await second.close()


async def test_keyring_is_sealed_and_survives_opening_without_a_key(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """The pseudonym key is stored encrypted; without the data key appends fail closed."""
    first = await Database.open(db_path, cipher=cipher)
    await first.audit.append(sample_event(now, 1))
    digest = first.audit.digester
    await first.close()
    conn = sqlite3.connect(db_path)
    try:
        sealed, material = conn.execute("SELECT sealed, material FROM audit_keyring").fetchone()
    finally:
        conn.close()
    assert sealed == 1
    assert len(cipher.decrypt(material)) == 32
    keyless = await Database.open(db_path)
    try:
        assert keyless.audit.digester is None
        with pytest.raises(StorageError, match="pseudonym key"):
            await keyless.audit.append(sample_event(now, 2))
        assert not (await keyless.audit.verify()).ok  # the anchor's key is missing too
    finally:
        await keyless.close()
    again = await Database.open(db_path, cipher=cipher)
    try:
        assert again.audit.digester is not None and digest is not None
        assert again.audit.digester(USER) == digest(USER)
        assert (await again.audit.verify()).ok
    finally:
        await again.close()


async def test_a_clear_keyring_is_sealed_once_a_data_key_is_given(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """A database made without a data key keeps its pseudonym key, now encrypted."""
    first = await Database.open(db_path)
    await first.audit.append(sample_event(now, 1))
    await first.close()
    second = await Database.open(db_path, cipher=cipher, audit_keys=[])  # anchor stays unsigned
    try:
        await second.audit.append(sample_event(now, 2))
        assert (await second.audit.verify()).ok
        row = await second.sql.fetchone("t", "SELECT sealed FROM audit_keyring")
        assert row is not None and row[0] == 1
    finally:
        await second.close()


async def test_appends_during_rechaining_continue_the_new_chain(
    db_path: Path, cipher: FieldCipher, now: datetime
) -> None:
    """Rows appended while old rows are re-chained (over several batches) build on the new head."""
    await old_database(db_path, cipher, now, n=1100)
    db = await Database.open(db_path, cipher=cipher)
    try:
        upgrading = asyncio.ensure_future(db.audit.upgrade_format(now=now))
        written = 0
        while not upgrading.done():
            await db.audit.append(sample_event(now, 5000 + written))
            written += 1
        assert await upgrading >= 1100
        assert written > 1, written
        result = await db.audit.verify()
        assert (result.ok, result.rows_checked) == (True, 1100 + written + 1)
    finally:
        await db.close()
    again = await Database.open(db_path, cipher=cipher)
    try:
        assert (await again.audit.verify()).ok
    finally:
        await again.close()
