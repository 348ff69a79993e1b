"""bot.ops on real database files: forget a user, online backup, data key rotation."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.ops import (
    backup,
    candidate_hashes,
    forget_user,
    new_key_material,
    rotate_keys,
    storage_ok,
)
from policy.approvals import token_hash
from policy.pairing import hash_code
from storage import AuditEvent, Database, FieldCipher, StorageError

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
USER = "telegram:telegram:4242424242"
OTHER = "slack:T1:U0OTHER"
ADMIN = "slack:T1:U0ADMIN"


@pytest.fixture
def material() -> bytes:
    """A fresh data key."""
    return FieldCipher.generate_key()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the database lives."""
    return tmp_path / "var" / "fd.db"


@pytest.fixture
async def db(db_path: Path, material: bytes) -> AsyncIterator[Database]:
    """An open database with a data key."""
    database = await Database.open(db_path, cipher=FieldCipher(material))
    try:
        yield database
    finally:
        await database.close()


async def _park(db: Database, n: int, requester: str, payload: bytes, key: bytes) -> int:
    approval = await db.approvals.create(
        public_id=f"A{n}",
        request_hash=f"req-{n}",
        payload=payload,
        requester=requester,
        tool="logs",
        risk=2,
        kind="run",
        approve_token_hash=token_hash(f"approve-{n}", key),
        deny_token_hash=token_hash(f"deny-{n}", key),
        created_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        channel_key=requester,
        admin_required=False,
    )
    return approval.id


def _event(i: int, **kw: object) -> AuditEvent:
    fields: dict[str, object] = {
        "ts": NOW + timedelta(seconds=i),
        "event_id": f"ev-{i}",
        "stage": "permission",
        "actor": OTHER,
        "channel": "slack:T1:C1",
        "tool": "logs",
        "decision": "allow",
        "reason": "allowed_by_user",
        "detail": {"i": i},
    }
    fields.update(kw)
    return AuditEvent(**fields)  # type: ignore[arg-type]


async def _populate(db: Database) -> int:
    """Everything a user leaves behind; returns the id of another user's approval."""
    key = FieldCipher(FieldCipher.generate_key()).derive_keys("approval-tokens")[0]
    await db.identities.upsert(
        USER,
        platform="telegram",
        tenant="telegram",
        user_id="4242424242",
        display_name="Dana",
        status="paired",
        now=NOW,
        by=ADMIN,
    )
    await db.identities.upsert(
        OTHER, platform="slack", tenant="T1", user_id="U0OTHER", display_name="O",
        status="paired", now=NOW, by=USER,
    )  # fmt: skip
    await db.roles.add(USER, "approver", by=ADMIN, now=NOW)
    await db.grants.add(scope="user", subject=USER, tool="logs", effect="allow", by=ADMIN, now=NOW)
    await db.grants.add(scope="user", subject=OTHER, tool="logs", effect="allow", by=USER, now=NOW)
    request = await db.pairings.create(
        actor_key=USER, platform="telegram", display_name="Dana", code_hash="h1",
        now=NOW, expires_at=NOW + timedelta(hours=1),
    )  # fmt: skip
    await db.pairings.decide(request.id, status="approved", by=ADMIN, now=NOW)
    await db.pairings.record_failure(USER, NOW)
    await _park(db, 1, USER, b"run logs for Dana please", key)
    theirs = await _park(db, 2, OTHER, b"other request", key)
    await db.approvals.add_vote(theirs, USER, NOW)
    await db.approvals.decide(theirs, to_status="approved", by=USER, now=NOW)
    await db.runs.start(run_id="r1", requester=USER, tool="logs", now=NOW)
    await db.settings.set(
        "autonomy", {"users": {USER: "supervised", OTHER: "autonomous"}}, by=USER, now=NOW
    )
    await db.audit.append_many(
        [
            _event(1, actor=USER, channel=USER, detail={"text": "hello"}),
            _event(
                2,
                actor=ADMIN,
                detail={"target": USER, "list": [USER, "x"], "n": {"u": USER}, "by": {USER: 1}},
            ),
            _event(3),
            _event(4, actor=USER, channel=USER, stage="execute", decision="allow"),
        ]
    )
    return theirs


def _file_bytes(path: Path) -> bytes:
    out = b""
    for each in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if each.exists():
            out += each.read_bytes()
    return out


def _dump(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


async def test_forget_removes_the_user_everywhere_and_keeps_the_chain(
    db_path: Path, material: bytes
) -> None:
    """After forgetting, the key is in neither the file bytes nor a dump, and verify passes."""
    db = await Database.open(db_path, cipher=FieldCipher(material))
    theirs = await _populate(db)
    assert USER.encode() in _file_bytes(db_path)
    report = await forget_user(db, USER, by=ADMIN, now=NOW + timedelta(minutes=5))
    assert report.audit_ok
    assert report.pseudonym.startswith("forgotten:")
    assert [p.public_id for p in report.cancelled] == ["A1"]
    assert report.deleted["identities"] == 1
    assert report.deleted["grants"] == 1
    assert report.deleted["approvals"] == 1
    assert report.audit_rows == 3
    assert await db.identities.get(USER) is None
    assert await db.roles.of(USER) == set()
    assert await db.approvals.get_by_public_id("A1") is None
    other = await db.approvals.get(theirs)
    assert other is not None
    assert other.decided_by == report.pseudonym
    assert await db.approvals.votes(theirs) == [report.pseudonym]
    assert (await db.runs.get("r1")).requester == report.pseudonym  # type: ignore[union-attr]
    assert await db.settings.get("autonomy") == {"users": {OTHER: "autonomous"}}
    rows = await db.audit.tail(10)
    assert rows[0].actor == rows[0].channel == report.pseudonym
    assert rows[1].detail == {
        "target": report.pseudonym,
        "list": [report.pseudonym, "x"],
        "n": {"u": report.pseudonym},
        "by": {report.pseudonym: 1},
    }
    record = rows[-1]
    assert (record.seq, record.actor, record.reason) == (report.audit_seq, ADMIN, "user_forgotten")
    assert record.detail["pseudonym"] == report.pseudonym
    await db.close()
    assert USER.encode() not in _file_bytes(db_path)
    assert USER not in _dump(db_path)
    again = await Database.open(db_path, cipher=FieldCipher(material))
    try:
        assert (await again.audit.verify()).ok
    finally:
        await again.close()


TAMPERING = [
    ("pseudonym_back_to_other_user", "UPDATE audit_log SET actor = '{other}' WHERE seq = 1"),
    ("forged_pseudonym", "UPDATE audit_log SET actor = 'forgotten:{zeros}' WHERE seq = 3"),
    ("edited_decision", "UPDATE audit_log SET decision = 'deny' WHERE seq = 4"),
    ("pseudonym_moved", "UPDATE audit_log SET actor = '{pseudonym}' WHERE seq = 3"),
    ("format_flag", "UPDATE audit_log SET fmt = 1 WHERE seq = 2"),
]


@pytest.mark.parametrize("statement", [t[1] for t in TAMPERING], ids=[t[0] for t in TAMPERING])
async def test_tampering_after_forgetting_is_detected(
    db_path: Path, material: bytes, statement: str
) -> None:
    """Edits to pseudonymised or other rows still break verification."""
    db = await Database.open(db_path, cipher=FieldCipher(material))
    await _populate(db)
    report = await forget_user(db, USER, by=ADMIN, now=NOW)
    await db.close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute(statement.format(other=OTHER, zeros="0" * 32, pseudonym=report.pseudonym))
    finally:
        conn.close()
    again = await Database.open(db_path, cipher=FieldCipher(material))
    try:
        result = await again.audit.verify()
    finally:
        await again.close()
    assert (result.ok, result.problem) == (False, "hash_mismatch")


async def test_forgetting_oneself_names_only_the_pseudonym(db: Database, db_path: Path) -> None:
    """A user who asks to be forgotten is recorded as the pseudonym, not by key."""
    await _populate(db)
    report = await forget_user(db, USER, by=USER, now=NOW)
    row = (await db.audit.tail(1))[0]
    assert row.actor == report.pseudonym
    assert USER not in row.to_json()


async def test_a_pseudonym_cannot_be_forgotten_again(db: Database) -> None:
    """Forgetting takes a user key, not a pseudonym."""
    await _populate(db)
    report = await forget_user(db, USER, by=ADMIN, now=NOW)
    with pytest.raises(ValueError, match="user key"):
        await forget_user(db, report.pseudonym, by=ADMIN, now=NOW)


async def test_forget_without_the_data_key_is_refused(db_path: Path, material: bytes) -> None:
    """A database opened without (or with another) data key cannot pseudonymise."""
    first = await Database.open(db_path, cipher=FieldCipher(material))
    await _populate(first)
    await first.close()
    wrong = await Database.open(db_path, cipher=FieldCipher(FieldCipher.generate_key()))
    try:
        with pytest.raises(StorageError):
            await forget_user(wrong, USER, by=ADMIN, now=NOW)
        assert await wrong.identities.get(USER) is not None
    finally:
        await wrong.close()


# --- backup ----------------------------------------------------------------------------------


async def test_backup_during_writes_is_consistent_and_private(db: Database, tmp_path: Path) -> None:
    """A copy taken while audit rows and approvals are written opens, verifies and has rows."""
    await _populate(db)
    key = FieldCipher(FieldCipher.generate_key()).derive_keys("approval-tokens")[0]
    stop = asyncio.Event()

    async def writer() -> int:
        n = 0
        while not stop.is_set():
            n += 1
            await db.audit.append(_event(100 + n))
            await _park(db, 100 + n, OTHER, b"x", key)
            await asyncio.sleep(0)
        return n

    task = asyncio.create_task(writer())
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()
    reports = []
    for i in range(3):
        reports.append(await backup(db, dest.with_name(f"copy{i}.db")))
    stop.set()
    written = await task
    assert written > 0
    for report in reports:
        assert report.ok, report.audit
        assert stat.S_IMODE(os.stat(report.path).st_mode) == 0o600
        assert report.audit.rows_checked >= 4
        conn = sqlite3.connect(report.path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT count(*) FROM identities").fetchone()[0] == 2
        finally:
            conn.close()
    assert not list(dest.parent.glob(".*tmp*"))


async def test_backup_refuses_to_overwrite_unless_told(db: Database, tmp_path: Path) -> None:
    """An existing destination is left alone unless overwrite=True."""
    await _populate(db)
    dest = tmp_path / "copy.db"
    dest.write_bytes(b"keep me")
    with pytest.raises(StorageError, match="exists"):
        await backup(db, dest)
    assert dest.read_bytes() == b"keep me"
    report = await backup(db, dest, overwrite=True)
    assert report.ok
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600


# --- key rotation ----------------------------------------------------------------------------


async def test_rotation_re_encrypts_and_old_tokens_still_resolve(
    db_path: Path, material: bytes
) -> None:
    """After rotating, payloads open with only the new key and old-key tokens still resolve."""
    old = FieldCipher(material)
    db = await Database.open(db_path, cipher=old)
    old_token_key = old.derive_keys("approval-tokens")[0]
    parked = await _park(db, 1, OTHER, b"the parked request", old_token_key)
    await db.audit.append(_event(1))
    request = await db.pairings.create(
        actor_key=OTHER, platform="slack", display_name="O",
        code_hash=hash_code("ABCD-EFGH", old.derive_keys("pairing-codes")[0]),
        now=NOW, expires_at=NOW + timedelta(hours=1),
    )  # fmt: skip
    new_material = new_key_material(material)
    assert new_material.endswith(b"," + material)
    new = FieldCipher(new_material)
    report = await rotate_keys(db, new)
    assert (report.rotated, report.undecryptable, report.keyring_rotated) == (1, 0, True)
    assert "anchor" in report.resealed
    again = await rotate_keys(db, new)
    assert (again.rotated, again.current) == (0, 1)
    hashes = candidate_hashes("approve-1", new, "approval-tokens", token_hash)
    assert hashes[0] != hashes[1]
    found = await db.approvals.find_by_token_hashes(hashes)
    assert found is not None
    assert (found[0].id, found[1], found[0].payload) == (parked, "approve", b"the parked request")
    assert await db.approvals.find_by_token_hashes(["nope"]) is None
    codes = candidate_hashes("ABCD-EFGH", new, "pairing-codes", hash_code)
    pending = await db.pairings.find_pending_by_hashes(codes, NOW)
    assert pending is not None
    assert pending.id == request.id
    await db.close()
    only_new = FieldCipher(new_material.split(b",")[0])
    reopened = await Database.open(db_path, cipher=only_new)
    try:
        approval = await reopened.approvals.get(parked)
        assert approval is not None
        assert approval.payload == b"the parked request"
        await reopened.audit.append(_event(2))
        assert (await reopened.audit.verify()).ok
    finally:
        await reopened.close()


async def test_rotation_while_approvals_are_parked_loses_nothing(
    db_path: Path, material: bytes
) -> None:
    """Approvals parked during a batched rotation all end up readable with the new key alone."""
    db = await Database.open(db_path, cipher=FieldCipher(material))
    key = FieldCipher(material).derive_keys("approval-tokens")[0]
    for n in range(25):
        await _park(db, n, OTHER, f"payload {n}".encode(), key)
    new_material = new_key_material(material)

    async def park_more() -> None:
        for n in range(100, 120):
            await _park(db, n, OTHER, f"payload {n}".encode(), key)
            await asyncio.sleep(0)

    results = await asyncio.gather(rotate_keys(db, FieldCipher(new_material), batch=4), park_more())
    report = results[0]
    assert report.batches >= 7
    assert report.undecryptable == 0
    await db.close()
    reopened = await Database.open(db_path, cipher=FieldCipher(new_material.split(b",")[0]))
    try:
        payloads = sorted(a.payload for a in await reopened.approvals.pending())
    finally:
        await reopened.close()
    assert len(payloads) == 45
    assert b"payload 119" in payloads


async def test_storage_probe_reports_a_closed_database(db_path: Path, material: bytes) -> None:
    """storage_ok is True on an open database and False (not an exception) once it is closed."""
    db = await Database.open(db_path, cipher=FieldCipher(material))
    assert await storage_ok(db)
    await db.close()
    assert not await storage_ok(db)
