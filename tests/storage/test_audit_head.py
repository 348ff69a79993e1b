"""The signed head log: rollback, truncation, a removed or forged head log are found; normal
operations (restart, retention, key rotation, forgetting, compaction) raise no false alarm."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from storage import Database, FieldCipher
from storage.audit_chain import GENESIS_HASH
from storage.crypto import new_key_material
from storage.forget import forget_user
from storage.headlog import sign_line
from storage.rotation import rotate
from tests.storage.audit_helpers import fill_log, old_database, sample_event, tamper


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """The head log, beside (not inside) the database's directory."""
    return tmp_path / "var-frontdoor.audit-head"


async def _open(db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime) -> Database:
    db = await Database.open(db_path, cipher=cipher, head_log=log_path)
    await db.audit.begin_head_log(now=now)
    return db


async def _filled(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime, n: int = 8
) -> None:
    db = await _open(db_path, cipher, log_path, now)
    try:
        await fill_log(db, now, n)
    finally:
        await db.close()


async def _problem(db_path: Path, cipher: FieldCipher, log_path: Path, **kw: object) -> str:
    db = await Database.open(db_path, cipher=cipher, head_log=log_path)
    try:
        check = await db.audit.check_head(**kw)  # type: ignore[arg-type]
        result = await db.audit.verify(**kw)  # type: ignore[arg-type]
        assert check.ok == result.ok, (check, result)
        if not check.ok:
            assert check.message
            if result.problem == check.problem:
                assert result.message == check.message
        return check.problem
    finally:
        await db.close()


async def test_every_flush_appends_a_signed_head(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """Each append adds one line naming the new head; the file is private; verify passes."""
    db = await _open(db_path, cipher, log_path, now)
    try:
        await db.audit.append_many([sample_event(now, i) for i in range(3)])
        await db.audit.append(sample_event(now, 3))
        lines = log_path.read_text().splitlines()
        assert len(lines) == 3  # start, then one per flush
        assert '"kind":"start"' in lines[0] and f'"hash":"{GENESIS_HASH}"' in lines[0]
        assert '"seq":4' in lines[-1] and (await db.audit.head())[1] in lines[-1]
        assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
        assert (await db.audit.verify()).ok
    finally:
        await db.close()
    assert await _problem(db_path, cipher, log_path) == ""  # and after a clean restart


async def test_restored_older_tables_are_found(
    tmp_path: Path, db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """The issue's attack: copy audit_log and audit_anchor back from an earlier backup."""
    await _filled(db_path, cipher, log_path, now, 5)
    old = tmp_path / "old.db"
    src = sqlite3.connect(db_path)
    src.execute(f"VACUUM INTO '{old}'")
    src.close()
    db = await _open(db_path, cipher, log_path, now)
    await fill_log(db, now, 4)
    await db.close()
    tamper(
        db_path,
        f"ATTACH '{old}' AS old",
        "DELETE FROM audit_log",
        "INSERT INTO audit_log SELECT * FROM old.audit_log",
        "DELETE FROM audit_anchor",
        "INSERT INTO audit_anchor SELECT * FROM old.audit_anchor",
    )
    assert await _problem(db_path, cipher, log_path) == "truncated"


async def test_an_older_database_file_is_found(
    tmp_path: Path, db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """Putting back a whole older copy of the file is a rollback, whatever it contains."""
    await _filled(db_path, cipher, log_path, now, 5)
    saved = tmp_path / "saved.db"
    shutil.copy(db_path, saved)
    db = await _open(db_path, cipher, log_path, now)
    await fill_log(db, now, 3)
    await db.close()
    shutil.copy(saved, db_path)
    problem = await _problem(db_path, cipher, log_path)
    assert problem == "rolled_back"
    db = await Database.open(db_path, cipher=cipher, head_log=log_path)
    try:
        check = await db.audit.check_head()
        assert (check.db_seq, check.signed_seq) == (5, 8)
        assert "older copy" in check.message
    finally:
        await db.close()


async def test_rows_cut_from_the_end_are_found(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """Deleting the newest rows leaves the database short of its signed head."""
    await _filled(db_path, cipher, log_path, now, 10)
    tamper(db_path, "DELETE FROM audit_log WHERE seq > 8")
    assert await _problem(db_path, cipher, log_path) == "truncated"


async def test_a_rewritten_chain_is_found(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """A chain replaced by another of the same length no longer meets the signed hash."""
    await _filled(db_path, cipher, log_path, now, 4)
    tamper(db_path, "UPDATE audit_log SET hash = 'f' || substr(hash, 2) WHERE seq = 4")
    assert await _problem(db_path, cipher, log_path) == "head_mismatch"


async def test_a_deleted_head_log_is_found(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """Once begun, a missing head log is a problem, and writes refuse to begin it again."""
    await _filled(db_path, cipher, log_path, now, 4)
    log_path.unlink()
    assert await _problem(db_path, cipher, log_path) == "head_log_missing"
    db = await Database.open(db_path, cipher=cipher, head_log=log_path)
    try:
        assert not await db.audit.begin_head_log(now=now)
        with pytest.raises(Exception, match="missing"):
            await db.audit.append(sample_event(now, 50))
        assert not log_path.exists()
    finally:
        await db.close()


@pytest.mark.parametrize(
    "forge",
    ["wrong_key", "edited_seq", "not_json"],
)
async def test_a_forged_head_line_is_found(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime, forge: str
) -> None:
    """A line not signed with the database's key is reported, wherever it is."""
    await _filled(db_path, cipher, log_path, now, 4)
    db = await Database.open(db_path, cipher=cipher)
    db_id = db.audit.db_id
    await db.close()
    if forge == "wrong_key":
        line = sign_line(os.urandom(32), kind="head", db=db_id, seq=2, digest="0" * 64, ts="x")
    elif forge == "edited_seq":
        line = log_path.read_text().splitlines()[-1].replace('"seq":4', '"seq":9')
    else:
        line = '{"frontdoor_audit_head":1,"kind":'
    with log_path.open("a") as f:
        f.write(line + "\n")
    assert await _problem(db_path, cipher, log_path) == "head_forged"


async def test_a_copy_kept_elsewhere_catches_a_rolled_back_head_log(
    tmp_path: Path, db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """Rolling back the database and its head log together is caught by a copy of the head."""
    await _filled(db_path, cipher, log_path, now, 5)
    saved_db, saved_log = tmp_path / "saved.db", tmp_path / "saved.head"
    shutil.copy(db_path, saved_db)
    shutil.copy(log_path, saved_log)
    db = await _open(db_path, cipher, log_path, now)
    await fill_log(db, now, 3)
    await db.close()
    shipped = tmp_path / "syslog.txt"  # what the operator's log shipping kept
    shipped.write_text(
        "".join(f"Nov 22 host frontdoor[1]: {line}\n" for line in log_path.read_text().splitlines())
    )
    shutil.copy(saved_db, db_path)
    shutil.copy(saved_log, log_path)
    assert await _problem(db_path, cipher, log_path) == ""  # consistent locally...
    assert await _problem(db_path, cipher, log_path, heads=[shipped]) == "rolled_back"


async def test_no_false_alarm_after_retention(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """Purging old rows behind a signed checkpoint leaves the head log matching."""
    await _filled(db_path, cipher, log_path, now, 10)
    db = await _open(db_path, cipher, log_path, now)
    try:
        assert await db.audit.purge_before(now + timedelta(seconds=6), now=now) == 6
        assert (await db.audit.verify()).ok
        assert await db.audit.purge_before(now + timedelta(days=1), now=now) == 4  # everything
        assert (await db.audit.verify()).ok
        await db.audit.append(sample_event(now, 99))
        assert (await db.audit.verify()).ok
    finally:
        await db.close()
    assert await _problem(db_path, cipher, log_path) == ""


async def test_no_false_alarm_after_key_rotation(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """After rotating the data key and dropping the old one, the head log still checks."""
    key = FieldCipher.generate_key()
    await _filled(db_path, FieldCipher(key), log_path, now, 4)
    material = new_key_material(key)
    both = FieldCipher(material)
    db = await Database.open(db_path, cipher=both, head_log=log_path)
    try:
        await rotate(db, both)
        assert (await db.audit.verify()).ok
    finally:
        await db.close()
    newest_only = FieldCipher(material.split(b",")[0])
    assert await _problem(db_path, newest_only, log_path) == ""
    assert await _problem(db_path, both, log_path) == ""


async def test_no_false_alarm_after_forgetting_old_rows(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """Forgetting a user named in old-format rows re-chains them and signs the new head."""
    await old_database(db_path, cipher, now)
    db = await _open(db_path, cipher, log_path, now)
    try:
        await db.audit.append(sample_event(now, 7))
        result = await forget_user(db, "slack:T1:U1", now=now)
        assert result.audit_rows > 0
        formats = await db.sql.fetchall("t", "SELECT DISTINCT fmt FROM audit_log")
        assert [r[0] for r in formats] == [2]
        assert (await db.audit.verify()).ok
    finally:
        await db.close()
    assert await _problem(db_path, cipher, log_path) == ""


async def test_accepting_a_problem_signs_a_new_base(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """An admin's acceptance is audited, and the chain checks from it on."""
    await _filled(db_path, cipher, log_path, now, 8)
    tamper(db_path, "DELETE FROM audit_log WHERE seq > 6")
    db = await Database.open(db_path, cipher=cipher, head_log=log_path)
    try:
        found = await db.audit.check_head()
        assert found.problem == "truncated"
        row = await db.audit.accept_head(found, by="cli:root", now=now)
        assert (row.reason, row.actor, row.detail["signed_seq"]) == (
            "audit_problem_accepted",
            "cli:root",
            8,
        )
        await db.audit.append(sample_event(now, 40))
        assert (await db.audit.verify()).ok
    finally:
        await db.close()
    assert await _problem(db_path, cipher, log_path) == ""


async def test_compaction_keeps_the_head(
    db_path: Path, cipher: FieldCipher, log_path: Path, now: datetime
) -> None:
    """A head log past its size is cut to one signed line at the head; it still checks."""
    await _filled(db_path, cipher, log_path, now, 10)
    db = await _open(db_path, cipher, log_path, now)
    try:
        assert await db.audit.compact_head_log(100, now=now)
        assert len(log_path.read_text().splitlines()) == 1
        await db.audit.append(sample_event(now, 60))
        assert (await db.audit.verify()).ok
    finally:
        await db.close()


async def test_the_database_refuses_a_row_not_linked_to_the_chain(
    db_path: Path, db: Database, now: datetime
) -> None:
    """Whoever writes, a row whose prev_hash is not the previous row's hash is refused."""
    await fill_log(db, now, 3)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="audit_link"):
            conn.execute(
                "INSERT INTO audit_log SELECT seq + 1, ts, event_id, stage, actor, channel, tool,"
                " decision, reason, detail, args_hash, latency_ms, prev_hash, hash, fmt"
                " FROM audit_log WHERE seq = 3"
            )
        with pytest.raises(sqlite3.IntegrityError, match="audit_link"):
            conn.execute(
                "INSERT INTO audit_log SELECT seq + 5, ts, event_id, stage, actor, channel, tool,"
                " decision, reason, detail, args_hash, latency_ms, hash, hash, fmt"
                " FROM audit_log WHERE seq = 3"
            )
    finally:
        conn.close()
    assert (await db.audit.verify()).ok
