"""`Database`: opens the SQLite file, applies migrations, and hands out the repositories.

    db = await Database.open(Path("var/frontdoor.db"), cipher=FieldCipher(key))
    try:
        if await db.idempotency.claim(event_id, now):
            ...
    finally:
        await db.close()

The file (and its parent directory, if missing) is created private (0600 / 0700); an
existing file readable by group or others is tightened to 0600. The connection runs
WAL, `foreign_keys=ON`, `synchronous=NORMAL`, `secure_delete=ON` (deleted and
overwritten content is zeroed, so a forgotten user's key does not linger in free pages)
and a busy timeout. One connection is shared by the process; see `storage/_sql.py` for
how concurrent coroutines share it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from types import TracebackType

import aiosqlite

from storage._sql import Sql
from storage.approvals import Approvals
from storage.audit import Audit
from storage.audit_chain import Digester
from storage.audit_writer import AuditWriter, triggers_script
from storage.crypto import FieldCipher
from storage.errors import AuditIntegrityError, StorageError, translate
from storage.grants import Grants
from storage.headlog import HeadLog
from storage.idempotency import Idempotency
from storage.identities import Identities
from storage.keyring import load_pseudonym_key
from storage.migrate import apply_migrations, load_migrations
from storage.pairings import Pairings
from storage.roles import Roles
from storage.runs import Runs
from storage.settings import Settings

__all__ = ["AUDIT_HEAD_PURPOSE", "AUDIT_MAC_PURPOSE", "Database"]

AUDIT_MAC_PURPOSE = "audit-checkpoint"
AUDIT_HEAD_PURPOSE = "audit-head"


def _prepare_file(path: Path) -> None:
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for each in (path, *(path.with_name(path.name + sfx) for sfx in ("-wal", "-shm"))):
                if each.exists() and stat.S_IMODE(each.stat().st_mode) & 0o077:
                    each.chmod(stat.S_IMODE(each.stat().st_mode) & 0o700)
        else:
            os.close(fd)
    except OSError as exc:
        raise StorageError(
            f"open: cannot prepare database file ({exc.strerror})", op="open"
        ) from None


def _require_wal(rows: Iterable[sqlite3.Row]) -> None:
    mode = next(iter(rows), ("",))[0]
    if str(mode).lower() != "wal":
        raise StorageError("open: WAL journal mode unavailable", op="open", code="wal")


class Database:
    """The open database and its repositories (attributes below)."""

    identities: Identities
    pairings: Pairings
    grants: Grants
    roles: Roles
    settings: Settings
    approvals: Approvals
    runs: Runs
    idempotency: Idempotency
    audit: Audit

    def __init__(
        self,
        sql: Sql,
        *,
        path: Path,
        cipher: FieldCipher | None,
        audit_keys: Sequence[bytes],
        writer: AuditWriter,
        pseudonym_key: bytes | None = None,
    ) -> None:
        self.path = path
        self._sql = sql
        self._writer = writer
        self._cipher = cipher
        self.identities = Identities(sql)
        self.pairings = Pairings(sql)
        self.grants = Grants(sql)
        self.roles = Roles(sql)
        self.settings = Settings(sql)
        self.approvals = Approvals(sql, cipher)
        self.runs = Runs(sql)
        self.idempotency = Idempotency(sql)
        self.audit = Audit(
            sql,
            writer,
            audit_keys,
            Digester(pseudonym_key) if pseudonym_key is not None else None,
            head_keys=cipher.derive_keys(AUDIT_HEAD_PURPOSE) if cipher is not None else (),
        )

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        cipher: FieldCipher | None = None,
        audit_keys: Sequence[bytes] | None = None,
        head_log: Path | None = None,
        busy_timeout_ms: int = 5000,
    ) -> Database:
        """Open (creating if needed) and migrate the database at `path`.

        `cipher` encrypts parked approval payloads (approvals refuse to work without it).
        `audit_keys` sign the audit purge checkpoint (newest first); when omitted they are
        derived from `cipher`, so one data key covers both. `head_log` is the signed head
        log kept outside the database (storage/headlog.py; it needs `cipher`, whose keys
        sign it): once begun (`audit.begin_head_log`), every audit write appends to it.
        """
        path = Path(path)
        _prepare_file(path)
        if audit_keys is None:
            audit_keys = cipher.derive_keys(AUDIT_MAC_PURPOSE) if cipher is not None else []
        conn: aiosqlite.Connection | None = None
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms):d}")
            rows = await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            _require_wal(rows)
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA trusted_schema = OFF")
            await conn.execute("PRAGMA secure_delete = ON")
            await apply_migrations(conn, load_migrations())
            present = await conn.execute_fetchall(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
            )
            script = triggers_script({str(r[0]): str(r[1]) for r in present})
            if script:  # put back if removed or altered (a read-only file keeps them as they are)
                await conn.executescript(script)
        except BaseException as exc:
            if conn is not None:
                with suppress(sqlite3.Error, ValueError):
                    await conn.close()
            if isinstance(exc, (sqlite3.Error, ValueError)):
                raise translate(exc, "open") from None
            raise
        sql = Sql(conn)
        log = None
        if head_log is not None:
            if cipher is None:
                await sql.close()
                raise StorageError("open: the audit head log needs the data key", op="open")
            log = HeadLog(head_log, cipher.derive_keys(AUDIT_HEAD_PURPOSE))
        writer = AuditWriter(path, head_log=log, busy_timeout_ms=busy_timeout_ms)
        try:
            await writer.open()
            pseudonym_key = await load_pseudonym_key(sql, cipher)
        except BaseException:
            await writer.close()
            await sql.close()
            raise
        db = cls(
            sql,
            path=path,
            cipher=cipher,
            audit_keys=audit_keys,
            writer=writer,
            pseudonym_key=pseudonym_key,
        )
        try:
            with suppress(AuditIntegrityError):  # a broken anchor stays as evidence for verify()
                await db.audit.anchor(only_if_present=True)
        except BaseException:
            await db.close()
            raise
        return db

    @property
    def cipher(self) -> FieldCipher | None:
        """The data cipher in use (None when opened without a data key)."""
        return self._cipher

    def use_cipher(self, cipher: FieldCipher) -> None:
        """Switch to new data keys (newest first) while running, e.g. before a rotation.

        Approvals encrypt with the newest key from now on and decrypt with any; the audit
        checkpoint and anchor are signed with keys derived from the new ones. The new
        cipher must still hold the old keys until `storage.rotation.rotate` has run.
        """
        self._cipher = cipher
        self.approvals.use_cipher(cipher)
        self.audit.use_mac_keys(
            cipher.derive_keys(AUDIT_MAC_PURPOSE), cipher.derive_keys(AUDIT_HEAD_PURPOSE)
        )

    @property
    def sql(self) -> Sql:
        """The shared connection (for storage's own multi-table operations)."""
        return self._sql

    @property
    def closed(self) -> bool:
        """Whether `close()` has been called."""
        return self._sql.closed

    async def schema_version(self) -> int:
        """The highest migration applied to the file."""
        row = await self._sql.fetchone("schema_version", "SELECT max(version) FROM schema_version")
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def close(self) -> None:
        """Anchor the audit head, then close; later calls raise StorageClosedError. Idempotent."""
        if not self._sql.closed:
            with suppress(StorageError):
                await self.audit.anchor(only_if_present=True)
        await self._writer.close()
        await self._sql.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
