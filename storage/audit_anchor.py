"""The signed anchor: a record, inside the database, of the chain's head.

The scheduler moves it every minute and the database at close; verify() checks the
chain still reaches it with the same hash. It only moves forward, and only from an
anchor that is intact (signature valid, its row still has its hash): otherwise
AuditIntegrityError, and the old anchor stays as evidence. It lives in the file it
vouches for, so it cannot tell an older copy of the file; the head log outside the
database does (storage/headlog.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from storage._sql import Tx
from storage.audit_chain import GENESIS_HASH, check_seal, seal
from storage.errors import AuditIntegrityError

__all__ = ["move_anchor", "read_head_tx"]


async def read_head_tx(tx: Tx) -> tuple[int, str]:
    """(seq, hash) of the stored head: last row, else checkpoint, else genesis."""
    row = await tx.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    if row is None:
        row = await tx.fetchone("SELECT seq, hash FROM audit_checkpoint WHERE id = 1")
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


async def move_anchor(
    tx: Tx, keys: Sequence[bytes], *, only_if_present: bool = False
) -> tuple[int, str]:
    """Sign the current head as the anchor (caller holds the lock); return what is anchored.

    With `only_if_present`, an absent anchor is recreated only while the log is empty
    (a removed anchor is reported by verify()).
    """
    seq, digest = await read_head_tx(tx)
    current = await tx.fetchone("SELECT seq, hash, mac FROM audit_anchor WHERE id = 1")
    if current is None:
        if only_if_present and seq > 0:
            return seq, digest
    else:
        await _check(tx, keys, int(current[0]), str(current[1]), str(current[2]))
        if int(current[0]) >= seq:
            return int(current[0]), str(current[1])
    mac = seal(keys[0], "anchor", seq, digest) if keys else ""
    await tx.execute(
        "INSERT INTO audit_anchor (id, seq, hash, mac) VALUES (1, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
        " mac = excluded.mac WHERE excluded.seq >= audit_anchor.seq",
        (seq, digest, mac),
    )
    return seq, digest


async def _check(tx: Tx, keys: Sequence[bytes], seq: int, digest: str, mac: str) -> None:
    op = "audit.anchor"
    if check_seal(keys, "anchor", seq, digest, mac):
        raise AuditIntegrityError("audit anchor does not verify; not moving it", op=op)
    row = await tx.fetchone("SELECT hash FROM audit_log WHERE seq = ?", (seq,))
    if row is None:
        point = await tx.fetchone("SELECT seq, hash FROM audit_checkpoint WHERE id = 1")
        if seq == 0:
            expected = GENESIS_HASH
        elif point is not None and int(point[0]) >= seq:
            expected = str(point[1]) if int(point[0]) == seq else digest  # purged earlier
        else:
            raise AuditIntegrityError("audit anchor row is missing; not moving it", op=op)
    else:
        expected = str(row[0])
    if expected != digest:
        raise AuditIntegrityError("audit anchor does not match the chain", op=op)
