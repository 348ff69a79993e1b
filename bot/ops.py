"""Operations on the database: forget a user, back up, rotate the data keys.

The functions the CLI (`frontdoor forget USER`, `frontdoor backup DEST`, `frontdoor
keys rotate`) and admin commands call; each returns a report to print. The storage
work lives in `storage/forget.py`, `storage/backup.py` and `storage/rotation.py`.

    report = await forget_user(db, "telegram:telegram:42", by="cli", now=now)
    report = await backup(db, Path("/backups/fd.db"))
    material = new_key_material(old_material)
    replace_key_file(key_path, material)       # or tell the operator to set the env var
    report = await rotate_keys(db, FieldCipher(material))

After a rotation, button tokens and pairing codes handed out before it were hashed
under an older derived key: hash a presented token with every key of
`cipher.derive_keys(purpose)` and look up with `db.approvals.find_by_token_hashes`
or `db.pairings.find_pending_by_hashes` (`candidate_hashes` does the first part).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from storage import AuditEvent, Database, FieldCipher, StorageError, VerifyResult
from storage.backup import backup_to, write_private
from storage.crypto import new_key_material, replace_key_file
from storage.effects import before_effect
from storage.forget import ParkedApproval
from storage.forget import forget_user as _forget
from storage.headlog import sign_line
from storage.rotation import rotate

__all__ = [
    "BackupReport",
    "ForgetReport",
    "ParkedApproval",
    "RotateReport",
    "backup",
    "candidate_hashes",
    "forget_user",
    "new_key_material",
    "replace_key_file",
    "rotate_keys",
    "storage_ok",
]

FORGET_REASON = "user_forgotten"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgetReport:
    """What forgetting a user did. Never holds the user key, only its pseudonym."""

    pseudonym: str
    deleted: Mapping[str, int]
    pseudonymised: Mapping[str, int]
    cancelled: tuple[ParkedApproval, ...]  # parked requests: tell their cards they are gone
    audit_rows: int  # audit rows rewritten to the pseudonym
    audit_seq: int  # the row that records the forget
    audit_ok: bool  # the chain verified afterwards
    wal_truncated: bool  # False: a reader kept old pages in the WAL; checkpoint again later


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupReport:
    """Where the copy is, whether its audit chain verified, and the audit head it holds."""

    path: Path
    size_bytes: int
    pages: int
    audit: VerifyResult
    head_seq: int = 0
    head_hash: str = ""
    head_file: Path | None = None  # DEST.head: the copy's head, signed

    @property
    def ok(self) -> bool:
        """The copy opened and its audit chain verified."""
        return self.audit.ok


@dataclass(frozen=True, slots=True, kw_only=True)
class RotateReport:
    """Counts of re-encrypted values (see storage/rotation.py)."""

    rotated: int
    current: int
    raced: int
    undecryptable: int
    batches: int
    keyring_rotated: bool
    resealed: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Every stored value is now under the newest key (nothing left unreadable)."""
        return self.undecryptable == 0


async def forget_user(db: Database, user_key: str, *, by: str, now: datetime) -> ForgetReport:
    """Erase `user_key`: audit the intent, delete what is theirs, pseudonymise the rest,
    audit what was done, verify.

    The audit row names `by` (or the pseudonym, when users forget themselves), the
    time and the pseudonym, never the key. Raises StorageError (KeyFileError without
    the data key, AuditIntegrityError when old rows must be re-chained and the chain
    is broken).
    """
    await before_effect()  # in a chat command: the rows that led here come first
    digester = db.audit.digester
    if digester is not None and db.cipher is not None and user_key:
        # the intent first: whatever happens next, the audit log says who started it
        early = digester.pseudonym(user_key)
        await db.audit.append(
            AuditEvent(
                ts=now,
                event_id=f"forget:{early}",
                stage="admin",
                actor=early if by == user_key else by,
                decision="info",
                reason="user_forget_started",
                detail={"pseudonym": early},
            )
        )
    result = await _forget(db, user_key, now=now)
    actor = result.pseudonym if by == user_key else by
    row = await db.audit.append(
        AuditEvent(
            ts=now,
            event_id=f"forget:{result.pseudonym}",
            stage="admin",
            actor=actor,
            decision="info",
            reason=FORGET_REASON,
            detail={
                "pseudonym": result.pseudonym,
                "deleted": dict(result.deleted),
                "pseudonymised": dict(result.pseudonymised),
                "cancelled": [p.public_id for p in result.cancelled],
                "audit_rows": result.audit_rows,
            },
        )
    )
    verified = await db.audit.verify()
    return ForgetReport(
        pseudonym=result.pseudonym,
        deleted=result.deleted,
        pseudonymised=result.pseudonymised,
        cancelled=result.cancelled,
        audit_rows=result.audit_rows,
        audit_seq=row.seq,
        audit_ok=verified.ok,
        wal_truncated=result.wal_truncated,
    )


async def backup(
    db: Database,
    dest: Path,
    *,
    overwrite: bool = False,
    by: str = "system",
    now: datetime | None = None,
) -> BackupReport:
    """Copy the live database to `dest` (0600), then open the copy and verify its audit chain.

    The copy's audit head (seq, hash) is recorded: signed, in `DEST.head` next to it
    (`frontdoor audit verify --head DEST.head` checks a restored copy against it), and,
    when `now` is given, in an audit row of the live database naming `by`. A restored
    copy is older than the live head log, so the bot refuses to start on it until an
    admin accepts the rollback. Refuses an existing `dest` unless `overwrite`
    (StorageError). A copy whose chain does not verify is kept (it is faithful: the
    source is broken too) and reported.
    """
    done = await backup_to(db, dest, overwrite=overwrite)
    copy = await Database.open(done.path, cipher=db.cipher, audit_keys=db.audit.mac_keys)
    try:
        result = await copy.audit.verify()
        seq, digest = await copy.audit.head()
        last = await copy.audit.tail(1)
    finally:
        await copy.close()
    head_file = None
    keys = db.audit.head_keys
    if keys:
        head_file = done.path.with_name(done.path.name + ".head")
        line = sign_line(
            keys[0],
            kind="head",
            db=db.audit.db_id,
            seq=seq,
            digest=digest,
            ts=last[-1].ts.isoformat() if last else "",
        )
        write_private(head_file, line + "\n")
    if now is not None:
        await db.audit.append(
            AuditEvent(
                ts=now,
                event_id=f"backup:{seq}",
                stage="admin",
                actor=by,
                decision="info",
                reason="backup_taken",
                detail={"path": str(done.path), "head_seq": seq, "head_hash": digest},
            )
        )
    return BackupReport(
        path=done.path,
        size_bytes=done.size_bytes,
        pages=done.pages,
        audit=result,
        head_seq=seq,
        head_hash=digest,
        head_file=head_file,
    )


async def rotate_keys(db: Database, new_cipher: FieldCipher, *, batch: int = 100) -> RotateReport:
    """Switch `db` to `new_cipher` and re-encrypt every stored value under its newest key.

    `new_cipher` must still hold the old keys (`FieldCipher(new_key_material(old))`).
    Safe while the bot runs in this process; another process using the database must
    already hold the new key (restart it with NEW,OLD first).
    """
    if new_cipher.key_count < 1:
        raise StorageError("rotate: no keys", op="rotate")
    r = await rotate(db, new_cipher, batch=batch)
    return RotateReport(
        rotated=r.rotated,
        current=r.current,
        raced=r.raced,
        undecryptable=r.undecryptable,
        batches=r.batches,
        keyring_rotated=r.keyring_rotated,
        resealed=r.resealed,
    )


async def storage_ok(db: Database) -> bool:
    """Whether the database answers a query (for `/healthz`); never raises."""
    try:
        await db.schema_version()
    except StorageError:
        return False
    return True


def candidate_hashes(
    token: str, cipher: FieldCipher, purpose: str, hash_with: Callable[[str, bytes], str]
) -> list[str]:
    """`hash_with(token, key)` under every key derived for `purpose`, newest first."""
    return [hash_with(token, key) for key in cipher.derive_keys(purpose)]
