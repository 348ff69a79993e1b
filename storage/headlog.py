"""The signed head log: the audit chain's head, kept outside the database.

Every audit flush appends one line with the new head (seq, hash, the last row's time)
and the database's id, HMAC-signed with a key derived from the data key (which never
lives in the database). A copy of the database restored from a backup, older tables
copied back into it, or rows cut from its end no longer reach the newest signed head:
`storage/headcheck.py` compares the two and names what it found.

    {"frontdoor_audit_head":1,"kind":"head","db":"…","seq":42,"hash":"…","ts":"…","kid":"…","mac":"…"}

Line kinds: `start` (the log was begun for a database that already had rows), `head`
(a flush), `accept` (an admin started the bot on a database that did not match: later
lines count from here), `compact` (the log was cut to its newest line by retention).

Writers (the bot, `frontdoor forget`, ...) take an exclusive lock on `<log>.lock`
before their audit transaction and release it after appending their line, so lines
are in commit order across processes. A line is written (`os.write`, so it survives
the writer being killed) before the flush returns; it is fsynced by a background
thread (one fsync in flight, at most one per 5 ms, coalescing), so power loss can lose
at most the last few milliseconds of lines and the flush path never waits on the disk.
(Rows lost the same way by the database would then show as missing: that is reported,
not hidden.) The file is 0600.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import hmac
import json
import os
import re
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.errors import StorageBusyError, StorageError

__all__ = ["MARKER", "HeadLine", "HeadLog", "key_id", "parse_lines", "sign_line"]

MARKER = "frontdoor_audit_head"
KINDS = ("start", "head", "accept", "compact")
_SYNC_GAP = 0.005  # seconds between background fsyncs (coalescing under load)


def key_id(key: bytes) -> str:
    """A public name for a signing key (16 hex digits), so a line names the key it needs."""
    return hmac.new(key, b"frontdoor/audit-head-kid", hashlib.sha256).hexdigest()[:16]


def _body(fields: dict[str, object]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


_PLAIN = re.compile(r"[A-Za-z0-9:.+_-]*\Z")  # values that JSON writes as they are


class _Signer:
    """Signs lines with one key (its HMAC state and id prepared once: this is per flush)."""

    __slots__ = ("kid", "mac")

    def __init__(self, key: bytes) -> None:
        self.kid = key_id(key)
        self.mac = hmac.new(key, digestmod=hashlib.sha256)

    def line(self, *, kind: str, db: str, seq: int, digest: str, ts: str) -> str:
        if all(_PLAIN.match(v) for v in (kind, db, digest, ts)):  # the same bytes as _body
            body = (
                f'{{"db":"{db}","{MARKER}":1,"hash":"{digest}","kid":"{self.kid}",'
                f'"kind":"{kind}","seq":{int(seq)},"ts":"{ts}"}}'
            ).encode()
        else:
            fields: dict[str, object] = {
                MARKER: 1, "kind": kind, "db": db, "seq": int(seq),
                "hash": digest, "ts": ts, "kid": self.kid,
            }  # fmt: skip
            body = _body(fields)
        mac = self.mac.copy()
        mac.update(body)
        return body[:-1].decode() + f',"mac":"{mac.hexdigest()}"}}'


def sign_line(key: bytes, *, kind: str, db: str, seq: int, digest: str, ts: str) -> str:
    """One signed line (without the newline)."""
    return _Signer(key).line(kind=kind, db=db, seq=seq, digest=digest, ts=ts)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadLine:
    """One line of a head log, as read; `trusted` is False when no key we hold signed it."""

    number: int  # 1-based line number in its file
    kind: str
    db: str
    seq: int
    hash: str
    ts: str
    kid: str
    trusted: bool
    problem: str = ""  # "" | "head_bad_signature" | "head_unknown_key" | "head_malformed"


def _parse(number: int, text: str, keys: Sequence[bytes]) -> HeadLine | None:
    start = text.find("{")
    if start < 0 or MARKER not in text:
        return None  # not a head line (a syslog copy holds other lines too)
    bad = HeadLine(number=number, kind="", db="", seq=-1, hash="", ts="", kid="", trusted=False)
    try:
        fields = json.loads(text[start:])
    except ValueError:
        return _with(bad, "head_malformed")
    if not isinstance(fields, dict) or fields.get(MARKER) != 1:
        return _with(bad, "head_malformed")
    mac = fields.pop("mac", "")
    kind, db, seq = fields.get("kind"), fields.get("db"), fields.get("seq")
    digest, ts, kid = fields.get("hash"), fields.get("ts"), fields.get("kid")
    if (
        kind not in KINDS
        or not all(isinstance(v, str) for v in (db, digest, ts, kid, mac))
        or not isinstance(seq, int)
        or seq < 0
    ):
        return _with(bad, "head_malformed")
    line = HeadLine(
        number=number,
        kind=str(kind),
        db=str(db),
        seq=seq,
        hash=str(digest),
        ts=str(ts),
        kid=str(kid),
        trusted=False,
    )
    for key in keys:
        if key_id(key) == kid:
            good = hmac.new(key, _body(fields), hashlib.sha256).hexdigest()
            if hmac.compare_digest(good, str(mac)):
                return dataclasses.replace(line, trusted=True)
            return _with(line, "head_bad_signature")
    return _with(line, "head_unknown_key")


def _with(line: HeadLine, problem: str) -> HeadLine:
    return dataclasses.replace(line, problem=problem)


def parse_lines(text: str, keys: Sequence[bytes]) -> list[HeadLine]:
    """Every head line in `text` (other lines are skipped), with its signature checked."""
    out: list[HeadLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _parse(number, raw, keys)
        if line is not None:
            out.append(line)
    return out


class HeadLog:
    """The head log file of one database: locked appends, background fsync, compaction."""

    def __init__(self, path: Path, keys: Sequence[bytes], *, lock_timeout: float = 5.0) -> None:
        if not keys:
            raise StorageError("audit head log: a data key is needed to sign it", op="audit.head")
        self.path = Path(path)
        self._keys = list(keys)
        self._signer = _Signer(self._keys[0])
        self._checked = False  # the file was found in place during this lock hold
        self._lock_timeout = lock_timeout
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        self._lock_fd: int | None = None
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._closing = False
        self._sync_error: OSError | None = None
        self._syncer: threading.Thread | None = None
        self._mutex = threading.Lock()

    @property
    def keys(self) -> list[bytes]:
        """The keys lines are checked with (the first signs)."""
        return list(self._keys)

    def use_keys(self, keys: Sequence[bytes]) -> None:
        """Sign with new keys (newest first) from now on."""
        self._keys = list(keys)
        self._signer = _Signer(self._keys[0])

    def exists(self) -> bool:
        """Whether the file is there."""
        return self.path.exists()

    def read(self) -> list[HeadLine]:
        """Every line of the file (FileNotFoundError when it is missing)."""
        return parse_lines(self.path.read_text(encoding="utf-8", errors="replace"), self._keys)

    def last_line(self) -> str:
        """The file's last line as written (for copies kept elsewhere); "" if there is none."""
        try:
            with self.path.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - 4096))
                tail = f.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return ""
        return next((line for line in reversed(tail) if MARKER in line), "")

    # --- writing (called from the audit writer's thread) ------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the writers' lock (a file beside the log), so lines follow commit order."""
        lock_fd = self._lock()
        self._checked = False
        try:
            yield
        finally:
            self._checked = False
            fcntl.flock(lock_fd, fcntl.LOCK_UN)

    def _lock(self) -> int:
        if self._lock_fd is None:
            lock_path = self.path.with_name(self.path.name + ".lock")
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise _os_error("cannot open the lock file", exc) from None
        deadline = time.monotonic() + self._lock_timeout
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self._lock_fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StorageBusyError(
                        "audit head log: another writer holds its lock", op="audit.head"
                    ) from None
                time.sleep(0.001)

    def ready(self) -> None:
        """Open the file if needed; StorageError (`head_log_missing`) when it is gone."""
        self._open(create=False)
        self._checked = True

    def _open(self, *, create: bool) -> None:
        """(Re)open the file if needed (another writer may have replaced it by compacting).

        StorageError when it is missing (unless `create`): a removed head log is
        evidence, never silently begun again.
        """
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            now = None
        if now is not None and self._fd is not None and self._ino == (now.st_dev, now.st_ino):
            return
        if now is None and not create:
            raise StorageError(
                f"audit head log {self.path} is missing (run `frontdoor audit verify`)",
                op="audit.head",
                code="head_log_missing",
            )
        with self._mutex:
            old, self._fd = self._fd, None
        if old is not None:
            with contextlib.suppress(OSError):
                os.fsync(old)
            os.close(old)
        try:
            fd = os.open(
                self.path,
                os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                0o600,
            )
        except OSError as exc:
            raise _os_error("cannot open", exc) from None
        info = os.fstat(fd)
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, 0o600)
        with self._mutex:
            self._fd, self._ino = fd, (info.st_dev, info.st_ino)
        if self._syncer is None:
            self._syncer = threading.Thread(target=self._sync_loop, name="audit-head-sync")
            self._syncer.daemon = True
            self._syncer.start()

    def append(
        self, *, kind: str, db: str, seq: int, digest: str, ts: str, create: bool = False
    ) -> None:
        """Write one signed line (the caller holds `locked()`); fsynced in the background."""
        if self._sync_error is not None:
            raise _os_error("cannot sync", self._sync_error)
        if create or not self._checked:
            self._open(create=create)
        assert self._fd is not None
        line = self._signer.line(kind=kind, db=db, seq=seq, digest=digest, ts=ts) + "\n"
        data = line.encode()
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            raise _os_error("cannot write", exc) from None
        if written != len(data):  # a full disk: the line is cut, the next check says so
            raise StorageError("audit head log: short write", op="audit.head", code="io")
        self._dirty.set()

    def replace_with(self, lines: Sequence[tuple[str, str, int, str, str]]) -> None:
        """Atomically replace the file by `lines` (kind, db, seq, hash, ts); caller holds the lock."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        text = "".join(
            sign_line(self._keys[0], kind=k, db=d, seq=s, digest=h, ts=t) + "\n"
            for k, d, s, h, t in lines
        )
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, text.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise _os_error("cannot compact", exc) from None
        self._open(create=False)

    def _sync_loop(self) -> None:
        while True:
            self._dirty.wait()
            if self._closing:
                return
            self._dirty.clear()
            self.sync()
            self._stop.wait(
                _SYNC_GAP
            )  # at most one fsync per gap: lines written meanwhile share it

    def sync(self) -> None:
        """fsync the file now (errors are kept and raised by the next append)."""
        with self._mutex:
            fd = self._fd
            if fd is None:
                return
            try:
                os.fsync(fd)
            except OSError as exc:
                self._sync_error = exc

    def close(self) -> None:
        """Sync, stop the background thread and close the file (idempotent)."""
        self.sync()
        self._closing = True
        self._stop.set()
        self._dirty.set()
        if self._syncer is not None:
            self._syncer.join(timeout=5)
            self._syncer = None
        with self._mutex:
            for fd in (self._fd, self._lock_fd):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._fd = self._lock_fd = None


def _os_error(what: str, exc: OSError) -> StorageError:
    return StorageError(f"audit head log: {what} ({exc.strerror})", op="audit.head", code="io")
