"""Re-encrypting stored values under the newest data key, while the bot keeps running.

    db.use_cipher(FieldCipher(new_key_material(old)))    # or open with "NEW,OLD"
    result = await rotate(db, db.cipher)

What is encrypted at rest: approval payloads and the audit pseudonym key
(storage/keyring.py). Rows are read in batches by id; each value is re-encrypted
outside the database lock, then written back with a compare on the old ciphertext
(`... WHERE id = ? AND payload = ?`), one short transaction per batch, so concurrent
decisions, purges and new approvals are never blocked for long and never
overwritten. Values already under the newest key are left alone; a value no key
opens is counted and left as it is (fail closed: nothing is dropped). The signed
audit checkpoint and anchor are re-signed with the newest derived key when their
current signature checks out, and the head log gets a line at the current head signed
with the newest key, so the old key can then be dropped.

Every process that reads the database must hold the new key before this runs: in
the bot, switch with `Database.use_cipher` (or restart with `NEW,OLD`) first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.audit_chain import check_seal, seal
from storage.crypto import FieldCipher
from storage.errors import DecryptError

if TYPE_CHECKING:
    from storage.db import Database

__all__ = ["RotationResult", "rotate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RotationResult:
    """Counts of what `rotate` did."""

    rotated: int  # re-encrypted under the newest key
    current: int  # already under the newest key
    raced: int  # changed or deleted by someone else meanwhile (left to them)
    undecryptable: int  # no configured key opens it (left as it is)
    batches: int
    keyring_rotated: bool
    resealed: tuple[str, ...]  # "checkpoint" / "anchor" re-signed with the newest key


def _plan(
    cipher: FieldCipher, rows: list[tuple[int, bytes]]
) -> tuple[list[tuple[bytes, int, bytes]], int, int]:
    updates: list[tuple[bytes, int, bytes]] = []
    current = bad = 0
    for row_id, token in rows:
        if cipher.is_current(token):
            current += 1
            continue
        try:
            updates.append((cipher.rotate(token), row_id, token))
        except DecryptError:
            bad += 1
    return updates, current, bad


async def _rotate_approvals(db: Database, cipher: FieldCipher, batch: int) -> list[int]:
    counts = [0, 0, 0, 0, 0]  # rotated, current, raced, undecryptable, batches
    last = 0
    while True:
        rows = await db.sql.fetchall(
            "rotate.read",
            "SELECT id, payload FROM approvals WHERE id > ? ORDER BY id LIMIT ?",
            (last, batch),
        )
        if not rows:
            return counts
        last = int(rows[-1][0])
        updates, current, bad = _plan(cipher, [(int(r[0]), bytes(r[1])) for r in rows])
        counts[1] += current
        counts[3] += bad
        counts[4] += 1
        if updates:
            async with db.sql.transaction("rotate.write") as tx:
                for new, row_id, old in updates:
                    changed = await tx.execute(
                        "UPDATE approvals SET payload = ? WHERE id = ? AND payload = ?",
                        (new, row_id, old),
                    )
                    counts[0 if changed else 2] += 1
        if len(rows) < batch:
            return counts


async def _rotate_keyring(db: Database, cipher: FieldCipher) -> bool:
    row = await db.sql.fetchone(
        "rotate.keyring", "SELECT sealed, material FROM audit_keyring WHERE id = 1"
    )
    if row is None or not row[0] or cipher.is_current(bytes(row[1])):
        return False
    old = bytes(row[1])
    changed = await db.sql.execute(
        "rotate.keyring",
        "UPDATE audit_keyring SET material = ? WHERE id = 1 AND material = ?",
        (cipher.rotate(old), old),
    )
    return changed == 1


async def _reseal(db: Database) -> tuple[str, ...]:
    keys = db.audit.mac_keys
    if not keys:
        return ()
    done: list[str] = []
    for kind, table in (("checkpoint", "audit_checkpoint"), ("anchor", "audit_anchor")):
        row = await db.sql.fetchone(
            "rotate.reseal",
            f"SELECT seq, hash, mac FROM {table} WHERE id = 1",  # noqa: S608 - fixed names
        )
        if row is None:
            continue
        seq, digest, mac = int(row[0]), str(row[1]), str(row[2])
        fresh = seal(keys[0], kind, seq, digest)
        if mac == fresh or check_seal(keys, kind, seq, digest, mac):
            continue  # already newest, or broken: broken stays as evidence
        changed = await db.sql.execute(
            "rotate.reseal",
            f"UPDATE {table} SET mac = ? WHERE id = 1 AND seq = ? AND mac = ?",  # noqa: S608
            (fresh, seq, mac),
        )
        if changed:
            done.append(kind)
    return tuple(done)


async def rotate(db: Database, cipher: FieldCipher, *, batch: int = 100) -> RotationResult:
    """Switch `db` to `cipher` and re-encrypt every stored value under its newest key."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    db.use_cipher(cipher)
    rotated, current, raced, bad, batches = await _rotate_approvals(db, cipher, batch)
    keyring = await _rotate_keyring(db, cipher)
    await db.audit.resign_head()  # the head log's newest line under the newest key
    return RotationResult(
        rotated=rotated,
        current=current,
        raced=raced,
        undecryptable=bad,
        batches=batches,
        keyring_rotated=keyring,
        resealed=await _reseal(db),
    )
