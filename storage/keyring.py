"""The audit pseudonym key: one random key per database, kept sealed under the data key.

The key behind fmt 2 audit digests and `forgotten:` pseudonyms (storage/audit_chain.py)
must outlive data-key rotations, or rows digested under an old key could no longer be
checked once that key is dropped. So it is not derived from the data key: it is made
once, at random, and stored in `audit_keyring` encrypted with the FieldCipher (rotated
with the other encrypted values, see storage/rotation.py). A database opened without a
data key keeps it in clear (sealed = 0) and seals it on the next open with one; a
sealed key opened without (or with another) data key is unavailable (appends fail, verify reports it).
"""

from __future__ import annotations

import secrets

from storage._sql import Sql
from storage.crypto import FieldCipher
from storage.errors import DecryptError

__all__ = ["load_pseudonym_key"]

_KEY_BYTES = 32


async def load_pseudonym_key(sql: Sql, cipher: FieldCipher | None) -> bytes | None:
    """Read (creating or sealing it if needed) the pseudonym key; None if it is sealed and
    the cipher is missing or does not open it (then audit appends fail, closed)."""
    op = "audit.keyring"
    async with sql.transaction(op) as tx:
        row = await tx.fetchone("SELECT sealed, material FROM audit_keyring WHERE id = 1")
        if row is None:
            key = secrets.token_bytes(_KEY_BYTES)
            sealed = cipher is not None
            material = cipher.encrypt(key) if cipher is not None else key
            await tx.execute(
                "INSERT INTO audit_keyring (id, sealed, material) VALUES (1, ?, ?)",
                (int(sealed), material),
            )
            return key
        if not row[0]:
            key = bytes(row[1])
            if cipher is not None:
                await tx.execute(
                    "UPDATE audit_keyring SET sealed = 1, material = ? WHERE id = 1",
                    (cipher.encrypt(key),),
                )
            return key
    if cipher is None:
        return None
    try:
        key = cipher.decrypt(bytes(row[1]))
    except DecryptError:
        return None  # another data key: reads of it fail the same way, appends are refused
    return key if len(key) == _KEY_BYTES else None
