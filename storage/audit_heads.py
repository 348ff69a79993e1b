"""Head log operations, run in the audit writer's thread: check, begin, accept, re-sign, compact.

check      compare the chain with the newest signed head of the head log (and of
           copies kept elsewhere); see storage/headcheck.py for the problems
begin      start the head log of a database that has none yet (a `start` line)
accept     an admin starts on a database that does not match its head log: an
           `accept` line at the current head, from which later lines count
resign     a `head` line at the current head under the newest key (after a rotation)
compact    cut the log to one `compact` line at the head, when it is intact and too big
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from storage.audit_chain import AuditEvent, seal
from storage.audit_writer import AuditWriter, read_head
from storage.headcheck import HeadCheck, check_lines, compare
from storage.headlog import HeadLine, parse_lines

__all__ = ["accept", "accepted_event", "begin", "check", "compact", "resign"]


@contextlib.contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")


def _log_since(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT log_since FROM audit_state WHERE id = 1").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _head_ts(conn: sqlite3.Connection, seq: int) -> str:
    row = conn.execute("SELECT ts FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    return str(row[0]) if row else ""


def check(writer: AuditWriter, extra: Sequence[Path], keys: Sequence[bytes]) -> HeadCheck:
    """The first problem found against the head log and each extra file, else ok."""
    results: list[HeadCheck] = []
    with _snapshot(writer.conn) as conn:
        log = writer.head_log
        if log is not None:
            source = str(log.path)
            try:
                lines: list[HeadLine] | None = log.read()
            except FileNotFoundError:
                lines = None
            except OSError as exc:
                return HeadCheck(
                    ok=False,
                    problem="head_unreadable",
                    source=source,
                    message=f"the head log {source} cannot be read ({exc.strerror})",
                )
            since = _log_since(conn)
            if not lines:
                if since is not None:
                    state = "is missing" if lines is None else "is empty"
                    return HeadCheck(
                        ok=False,
                        problem="head_log_missing",
                        source=source,
                        message=f"the head log {source} {state}, but it was begun at seq {since}"
                        " for this database (it was deleted or replaced)",
                    )
                results.append(HeadCheck(ok=True, source=source, note="no head log begun yet"))
            else:
                results.append(_against(conn, lines, writer.db_id, source))
        for path in extra:
            try:
                text = Path(path).read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                return HeadCheck(
                    ok=False,
                    problem="head_unreadable",
                    source=str(path),
                    message=f"{path}: cannot read ({exc.strerror})",
                )
            results.append(_against(conn, parse_lines(text, keys), writer.db_id, str(path)))
    for result in results:
        if not result.ok:
            return result
    if not results:
        return HeadCheck(ok=True, note="no head log configured")
    return max(results, key=lambda r: -1 if r.signed_seq is None else r.signed_seq)


def _against(
    conn: sqlite3.Connection, lines: Sequence[HeadLine], db_id: str, source: str
) -> HeadCheck:
    newest = check_lines(lines, db_id=db_id, source=source)
    if isinstance(newest, HeadCheck):
        return newest
    return compare(conn, newest, source=source)


def begin(writer: AuditWriter, ts: str) -> bool:
    """Start the head log with a `start` line at the current head; False if already begun."""
    assert writer.head_log is not None
    with writer.ordered():
        with writer.transaction() as conn:
            if _log_since(conn) is not None:
                return False
            seq, digest = read_head(conn)
            conn.execute("UPDATE audit_state SET log_since = ? WHERE id = 1", (seq,))
        writer.sign_head("start", seq, digest, _head_ts(conn, seq) or ts, create=True)
    return True


def accept(writer: AuditWriter, ts: str, mac_key: bytes | None) -> tuple[int, str]:
    """Write an `accept` line at the current head (creating the log if needed), and make the
    database's own marks (highest seq, signed anchor) start again from that head."""
    assert writer.head_log is not None
    with writer.ordered():
        with writer.transaction() as conn:
            seq, digest = read_head(conn)
            conn.execute(
                "UPDATE audit_state SET log_since = coalesce(log_since, ?), high_seq = ?"
                " WHERE id = 1",
                (seq, seq),
            )
            mac = seal(mac_key, "anchor", seq, digest) if mac_key is not None else ""
            conn.execute(
                "INSERT INTO audit_anchor (id, seq, hash, mac) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
                " mac = excluded.mac",
                (seq, digest, mac),
            )
        writer.sign_head("accept", seq, digest, ts, create=True)
    return seq, digest


def accepted_event(found: HeadCheck, by: str, now: datetime, seq: int, digest: str) -> AuditEvent:
    """The audit row that records who accepted which problem, and the head accepted."""
    return AuditEvent(
        ts=now,
        event_id=f"audit-accept:{seq}",
        stage="audit",
        actor=by,
        decision="info",
        reason="audit_problem_accepted",
        detail={
            "problem": found.problem,
            "message": found.message,
            "source": found.source,
            "signed_seq": found.signed_seq,
            "signed_hash": found.signed_hash,
            "db_seq": seq,
            "db_hash": digest,
        },
    )


def resign(writer: AuditWriter) -> None:
    """A `head` line at the current head with the newest key (after a key rotation)."""
    if writer.head_log is None:
        return
    with writer.ordered():
        with _snapshot(writer.conn) as conn:
            seq, digest = read_head(conn)
            started = _log_since(conn) is not None
            ts = _head_ts(conn, seq)
        if started:
            writer.sign_head("head", seq, digest, ts)


def compact(writer: AuditWriter, max_bytes: int, ts: str) -> bool:
    """Replace a log larger than `max_bytes` by one `compact` line at the head, if it checks."""
    log = writer.head_log
    if log is None:
        return False
    with writer.ordered():
        try:
            if os.stat(log.path).st_size <= max_bytes:
                return False
        except FileNotFoundError:
            return False
        if not check(writer, (), log.keys).ok:
            return False  # the evidence stays as it is
        with _snapshot(writer.conn) as conn:
            seq, digest = read_head(conn)
        log.replace_with([("compact", writer.db_id, seq, digest, ts)])
    return True
