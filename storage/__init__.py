"""Persistence on aiosqlite: schema and migrations, one repository per aggregate,
the hash-chained audit log, field encryption.

May import only `policy` (for its types); in practice it imports nothing of ours.

    from storage import Database, FieldCipher, load_or_create_key
    key, created = load_or_create_key(os.environ, "FRONTDOOR_DATA_KEY", Path("var/data.key"))
    db = await Database.open(Path("var/frontdoor.db"), cipher=FieldCipher(key))
    db.identities  db.pairings  db.grants  db.roles  db.settings
    db.approvals   db.runs      db.idempotency      db.audit
    await db.close()

- Times are passed in by the caller (`now=`), always timezone-aware; nothing here reads
  a clock. They are stored as fixed-width UTC ISO text (`storage/_time.py`).
- Every failure surfaces as `StorageError` (tree in `storage/errors.py`); naive
  datetimes and unknown enum-like values are caller bugs and raise ValueError.
- State changes that must happen once (`approvals.decide`, `approvals.mark_executed`,
  `pairings.decide`, `idempotency.claim`) are single compare-and-set statements that
  return whether this call won.
- Approval payloads are encrypted by the repository with the database's FieldCipher
  (pass plaintext in, read plaintext out); without a cipher approvals refuse to work.
- The audit log is hash-chained, group-committed, verified from a signed purge
  checkpoint and checked against a signed head anchor (`storage/audit.py`). Rows
  since migration 0003 hash keyed digests of actor, channel and detail strings, so a
  user can be pseudonymised without breaking the chain (`storage/audit_chain.py`).
  Appends read the head inside their write transaction (`storage/audit_writer.py`;
  a trigger refuses unlinked rows) and sign each new head into a head log kept
  outside the database (`storage/headlog.py`, checked by `storage/headcheck.py`).
- Audit before effect: every write awaits `storage.effects.before_effect()` first,
  which writes the current request's pending audit rows (`storage/effects.py`).
- Operations: `storage/forget.py` (erase a user), `storage/backup.py` (online copy),
  `storage/rotation.py` (re-encrypt under the newest data key), with
  `storage/keyring.py` holding the audit pseudonym key sealed under the data key.
"""

from storage.approvals import APPROVAL_STATUSES, Approval, Approvals
from storage.audit import GENESIS_HASH, Audit, AuditEvent, AuditRow, VerifyResult
from storage.crypto import FieldCipher, load_or_create_key
from storage.db import Database
from storage.errors import (
    AuditIntegrityError,
    ConstraintError,
    DecryptError,
    KeyFileError,
    MigrationError,
    StorageBusyError,
    StorageClosedError,
    StorageError,
)
from storage.grants import Grant, Grants
from storage.idempotency import Idempotency
from storage.identities import Identities, Identity
from storage.pairings import PairingRequest, Pairings
from storage.roles import Roles
from storage.runs import Run, Runs
from storage.settings import Settings

__all__ = [
    "APPROVAL_STATUSES",
    "GENESIS_HASH",
    "Approval",
    "Approvals",
    "Audit",
    "AuditEvent",
    "AuditIntegrityError",
    "AuditRow",
    "ConstraintError",
    "Database",
    "DecryptError",
    "FieldCipher",
    "Grant",
    "Grants",
    "Idempotency",
    "Identities",
    "Identity",
    "KeyFileError",
    "MigrationError",
    "PairingRequest",
    "Pairings",
    "Roles",
    "Run",
    "Runs",
    "Settings",
    "StorageBusyError",
    "StorageClosedError",
    "StorageError",
    "VerifyResult",
    "load_or_create_key",
]
