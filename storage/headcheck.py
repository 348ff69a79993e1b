"""Checking the database's audit chain against its signed head (storage/headlog.py).

Problems found, each with a message that says what was found and where:

    head_log_missing     a head log was begun for this database (audit_state.log_since) but
                         the file is gone or holds no line
    head_forged          a line is not signed by this database's key (or is not a head line)
    head_other_database  the newest lines belong to another database
    head_log_disorder    lines go back in seq without an `accept` line (reordered)
    truncated            rows the signed head covers are missing from the end, and the
                         database itself had stored them (rows deleted, or older audit
                         tables copied back)
    rolled_back          the whole database is older than the signed head (an older copy
                         of the file was put back)
    head_mismatch        the row at the signed seq differs from the signed hash (the chain
                         was rewritten or replaced after it was signed)
    chain_break          a row after the signed head does not link to the one before it
    head_unreadable      the head log (or a copy given to verify) cannot be read

Lines signed with a key this process no longer holds are accepted only before the
first line it can check (keys retired by a rotation sign only older lines).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from storage.audit_writer import read_head
from storage.headlog import HeadLine

__all__ = ["HeadCheck", "check_lines", "compare"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadCheck:
    """The outcome of checking the chain against one source of signed heads."""

    ok: bool
    problem: str = ""
    message: str = ""
    source: str = ""
    signed_seq: int | None = None
    signed_hash: str = ""
    db_seq: int = 0
    db_hash: str = ""
    note: str = ""  # for ok results: e.g. "no head log begun yet"


def _fail(problem: str, message: str, source: str, **kw: object) -> HeadCheck:
    return HeadCheck(ok=False, problem=problem, message=message, source=source, **kw)  # type: ignore[arg-type]


def check_lines(lines: Sequence[HeadLine], *, db_id: str, source: str) -> HeadLine | HeadCheck:
    """The newest line that counts, or the problem with the lines."""
    trusted_seen = False
    base = 0
    for index, line in enumerate(lines):
        if line.problem == "head_unknown_key" and not trusted_seen:
            continue  # signed with a key retired before this process's keys: older lines
        if line.problem:
            what = {
                "head_bad_signature": "its signature does not match this database's key",
                "head_unknown_key": "it is signed with a key this database never used",
                "head_malformed": "it is not a well-formed head line",
            }[line.problem]
            return _fail("head_forged", f"line {line.number} of {source} is forged: {what}", source)
        trusted_seen = True
        if line.kind in ("accept", "compact"):
            base = index
    counted = [line for line in lines[base:] if not line.problem]
    if not counted:
        return _fail(
            "head_log_missing", f"{source} holds no head line signed with this key", source
        )
    previous: HeadLine | None = None
    for line in counted:
        if line.db != db_id:
            return _fail(
                "head_other_database",
                f"line {line.number} of {source} is the head of another database ({line.db});"
                f" this one is {db_id}",
                source,
            )
        if previous is not None and line.seq < previous.seq:
            return _fail(
                "head_log_disorder",
                f"line {line.number} of {source} goes back from seq {previous.seq} to {line.seq}"
                " (lines were moved)",
                source,
            )
        previous = line
    return counted[-1]


def compare(conn: sqlite3.Connection, newest: HeadLine, *, source: str) -> HeadCheck:
    """Check the database (one read transaction on `conn`) against the newest signed head."""
    seq, digest = read_head(conn)
    state = conn.execute("SELECT high_seq FROM audit_state WHERE id = 1").fetchone()
    high = int(state[0]) if state else 0
    signed = {
        "signed_seq": newest.seq,
        "signed_hash": newest.hash,
        "db_seq": seq,
        "db_hash": digest,
    }
    where = f"seq {newest.seq} signed at {newest.ts} ({source} line {newest.number})"
    if seq < newest.seq:
        if high >= newest.seq:
            return _fail(
                "truncated",
                f"rows {seq + 1}..{newest.seq} are missing: the signed head ({where}) covers"
                f" them and the database had stored up to seq {high}, but it now ends at seq"
                f" {seq} (rows were deleted, or older audit tables were copied back)",
                source,
                **signed,
            )
        return _fail(
            "rolled_back",
            f"the database is older than its signed head: it ends at seq {seq}, the head log"
            f" has {where} (an older copy of the database was put back)",
            source,
            **signed,
        )
    row = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (newest.seq,)).fetchone()
    stored: str | None = str(row[0]) if row else None
    start, prev = newest.seq, newest.hash
    if stored is None:
        point = conn.execute("SELECT seq, hash FROM audit_checkpoint WHERE id = 1").fetchone()
        if point is not None and int(point[0]) == newest.seq:
            stored = str(point[1])
        elif point is not None and int(point[0]) > newest.seq:
            stored = newest.hash  # purged by retention since it was signed
            start, prev = int(point[0]), str(point[1])
    if stored != newest.hash:
        return _fail(
            "head_mismatch",
            f"the row at seq {newest.seq} is not the one signed ({where}): the chain was"
            " rewritten or replaced after it was signed",
            source,
            **signed,
        )
    for row in conn.execute(
        "SELECT seq, prev_hash, hash FROM audit_log WHERE seq > ? ORDER BY seq", (start,)
    ):
        if str(row[1]) != prev:
            return _fail(
                "chain_break",
                f"row {row[0]} after the signed head ({where}) does not link to the row before it",
                source,
                **signed,
            )
        prev = str(row[2])
    return HeadCheck(ok=True, source=source, **signed)  # type: ignore[arg-type]
