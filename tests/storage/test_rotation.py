"""storage.rotation and the multi-hash lookups: what rotation leaves alone, and re-signing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from storage import Database, FieldCipher
from storage.crypto import new_key_material
from storage.rotation import rotate
from tests.storage.audit_helpers import fill_log, tamper
from tests.storage.test_approvals import _park


async def test_token_hashes_find_approve_and_deny(db: Database, now: datetime) -> None:
    """Any of several candidate hashes finds the approval and says which button it was."""
    approval = await _park(db, now, 1)
    found = await db.approvals.find_by_token_hashes(["old-key-hash", "deny-1"])
    assert found is not None
    assert (found[0].id, found[1]) == (approval.id, "deny")
    assert await db.approvals.find_by_token_hashes([]) is None
    assert await db.approvals.find_by_token_hashes(["approve-2"]) is None


async def test_pairing_hashes_skip_expired_and_decided(db: Database, now: datetime) -> None:
    """Only a pending, unexpired request is found by any of its candidate hashes."""
    live = await db.pairings.create(
        actor_key="a", platform="slack", display_name="", code_hash="h-live",
        now=now, expires_at=now + timedelta(minutes=5),
    )  # fmt: skip
    await db.pairings.create(
        actor_key="b", platform="slack", display_name="", code_hash="h-old",
        now=now, expires_at=now - timedelta(minutes=1),
    )  # fmt: skip
    found = await db.pairings.find_pending_by_hashes(["x", "h-live"], now)
    assert found is not None and found.id == live.id
    assert await db.pairings.find_pending_by_hashes(["h-old"], now) is None
    await db.pairings.decide(live.id, status="rejected", by="admin", now=now)
    assert await db.pairings.find_pending_by_hashes(["h-live"], now) is None
    assert await db.pairings.find_pending_by_hashes([], now) is None


async def test_a_payload_no_key_opens_is_counted_and_kept(db_path: Path, now: datetime) -> None:
    """Rotation never drops what it cannot read: the row stays as it was."""
    material = FieldCipher.generate_key()
    db = await Database.open(db_path, cipher=FieldCipher(material))
    try:
        approval = await _park(db, now, 1)
        await _park(db, now, 2)
        foreign = FieldCipher(FieldCipher.generate_key()).encrypt(b"x").decode()
        tamper(db_path, f"UPDATE approvals SET payload = CAST('{foreign}' AS BLOB) WHERE id = 1")
        result = await rotate(db, FieldCipher(new_key_material(material)))
        assert (result.rotated, result.undecryptable) == (1, 1)
        row = await db.sql.fetchone(
            "t", "SELECT payload FROM approvals WHERE id = ?", (approval.id,)
        )
        assert row is not None and bytes(row[0]) == foreign.encode()
    finally:
        await db.close()


async def test_checkpoint_and_anchor_are_resigned_so_the_old_key_can_go(
    db_path: Path, now: datetime
) -> None:
    """After rotating, a purged log verifies with the new key alone."""
    material = FieldCipher.generate_key()
    db = await Database.open(db_path, cipher=FieldCipher(material))
    await fill_log(db, now, 10)
    assert await db.audit.purge_before(now + timedelta(seconds=4), now=now) == 4
    new_material = new_key_material(material)
    result = await rotate(db, FieldCipher(new_material), batch=1)
    assert set(result.resealed) == {"checkpoint", "anchor"}
    await db.close()
    only_new = await Database.open(db_path, cipher=FieldCipher(new_material.split(b",")[0]))
    try:
        verified = await only_new.audit.verify()
        assert (verified.ok, verified.rows_checked) == (True, 6)
    finally:
        await only_new.close()
