"""The audit chain's format: the event and row values, canonical JSON and hashing.

A row's hash is sha256 over the canonical JSON (sorted keys, no spaces, UTF-8) of
its fields (seq, ts, event_id, stage, actor, channel, tool, decision, reason, detail,
args_hash, latency_ms) plus prev_hash. The first row's prev_hash is GENESIS_HASH.
Purge checkpoints and the head anchor are HMAC-SHA256 signed.

Two row formats (column `fmt`):

- fmt 1 (rows written before migration 0003): the clear actor, channel and the exact
  stored detail text enter the hash.
- fmt 2 (every row written since): the actor, the channel and every string inside
  detail (values and keys) enter the hash as `Digester` digests: keyed BLAKE2b-128
  (a MAC) under the database's pseudonym key (storage/keyring.py), 32 hex digits.
  They are taken before a row is queued, outside the lock. The pseudonym of a value is
  `forgotten:<its digest>`, and a pseudonym digests to the digest it carries, so
  replacing a value by its pseudonym (what forgetting a user does) leaves the hash
  unchanged, while replacing it by anything else changes it. Making a pseudonym needs
  the key, so someone editing the file cannot pseudonymise (hide) an actor either.
  Numbers enter as they are; a user key inside a longer string is not a value of its
  own (and is not pseudonymised).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage._time import from_iso, to_iso
from storage.errors import StorageError

__all__ = [
    "GENESIS_HASH",
    "PSEUDONYM_PREFIX",
    "AuditEvent",
    "AuditRow",
    "Digester",
    "VerifyResult",
    "build_rows",
    "canonical_detail",
    "chain_rows",
    "check_seal",
    "mask",
    "mask_prepared",
    "prepare",
    "row_from_db",
    "row_from_values",
    "row_hash",
    "row_hash_masked",
    "row_hash_v2",
    "seal",
]

GENESIS_HASH = "0" * 64
PSEUDONYM_PREFIX = "forgotten:"
_PSEUDONYM = re.compile(r"forgotten:([0-9a-f]{32})\Z")
_DIGEST_CACHE = 4096


class Digester:
    """Keyed digests of audited strings, and the pseudonyms that stand in for them."""

    __slots__ = ("_cache", "_key")

    def __init__(self, key: bytes) -> None:
        self._key = bytes(key)
        self._cache: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        """The digest that enters a fmt 2 row's hash for `value`."""
        found = self._cache.get(value)
        if found is not None:
            return found
        match = _PSEUDONYM.match(value) if value.startswith(PSEUDONYM_PREFIX) else None
        if match is not None:
            digest = match.group(1)
        else:
            digest = hashlib.blake2b(
                value.encode(), key=self._key, digest_size=16, person=b"frontdoor-audit"
            ).hexdigest()
        if len(self._cache) >= _DIGEST_CACHE:
            self._cache.clear()
        self._cache[value] = digest
        return digest

    def pseudonym(self, value: str) -> str:
        """`forgotten:<digest>`: what replaces `value` when its owner is forgotten."""
        return PSEUDONYM_PREFIX + self(value)

    def __repr__(self) -> str:
        return "Digester(<key>)"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One decision to record. `detail` must be JSON-safe and already redacted."""

    ts: datetime
    event_id: str
    stage: str
    actor: str = ""
    channel: str = ""
    tool: str = ""
    decision: str = "info"  # "allow" | "deny" | "info" | ...
    reason: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    args_hash: str = ""
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRow:
    """A stored audit row."""

    seq: int
    ts: datetime
    event_id: str
    stage: str
    actor: str
    channel: str
    tool: str
    decision: str
    reason: str
    detail: dict[str, Any]
    args_hash: str
    latency_ms: float
    prev_hash: str
    hash: str

    def to_json(self) -> str:
        """One JSON line, as written by `export_jsonl`."""
        return json.dumps(
            {
                "seq": self.seq,
                "ts": to_iso(self.ts),
                "event_id": self.event_id,
                "stage": self.stage,
                "actor": self.actor,
                "channel": self.channel,
                "tool": self.tool,
                "decision": self.decision,
                "reason": self.reason,
                "detail": self.detail,
                "args_hash": self.args_hash,
                "latency_ms": self.latency_ms,
                "prev_hash": self.prev_hash,
                "hash": self.hash,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyResult:
    """Outcome of `Audit.verify()`; `problem` is a short code, "" when ok."""

    ok: bool
    rows_checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    message: str = ""  # what was found, in words (set for head log problems)


_DETAIL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_ROW_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_detail(detail: Mapping[str, Any]) -> str:
    """The canonical JSON text of a detail mapping; StorageError if it is not JSON-safe."""
    try:
        return _DETAIL_ENCODER.encode(dict(detail))
    except (TypeError, ValueError):
        raise StorageError(
            "audit detail is not JSON-serialisable", op="audit.append", code="detail"
        ) from None


def _chained(
    fields: Sequence[Any], actor: str, channel: str, detail: str, prev_hash: str, **extra: int
) -> str:
    """sha256 over the canonical (key-sorted) JSON of a row's fields, as given, and prev_hash."""
    seq, ts, event_id, stage, _, _, tool, decision, reason, _, args, lat = fields
    body = {
        "seq": seq,
        "ts": ts,
        "event_id": event_id,
        "stage": stage,
        "actor": actor,
        "channel": channel,
        "tool": tool,
        "decision": decision,
        "reason": reason,
        "detail": detail,
        "args_hash": args,
        "latency_ms": lat,
        "prev_hash": prev_hash,
        **extra,
    }
    return hashlib.sha256(_ROW_ENCODER.encode(body).encode()).hexdigest()


def row_hash(fields: Sequence[Any], prev_hash: str) -> str:
    """The fmt 1 hash: sha256 over the canonical JSON of (seq .. latency_ms) and prev_hash."""
    return _chained(fields, fields[4], fields[5], fields[9], prev_hash)


def _masked(value: Any, digest: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return digest(value)
    if isinstance(value, dict):
        return {digest(k): _masked(v, digest) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, digest) for v in value]
    return value


Masked = tuple[str, str, str]


def mask(actor: str, channel: str, detail: str, digest: Callable[[str], str]) -> Masked:
    """The digested actor, channel and detail text that enter a fmt 2 hash.

    `detail` is the stored detail text; ValueError if it is not JSON.
    """
    masked = _DETAIL_ENCODER.encode(_masked(json.loads(detail), digest))
    return digest(actor), digest(channel), masked


def row_hash_v2(fields: Sequence[Any], prev_hash: str, digest: Callable[[str], str]) -> str:
    """The fmt 2 hash: like `row_hash`, with actor, channel and detail strings digested."""
    return row_hash_masked(fields, mask(fields[4], fields[5], fields[9], digest), prev_hash)


def row_hash_masked(fields: Sequence[Any], masked: Masked, prev_hash: str) -> str:
    """`row_hash_v2` with the digests already taken (by `mask`)."""
    actor, channel, detail = masked
    return _chained(fields, actor, channel, detail, prev_hash, fmt=2)


def seal(key: bytes, kind: str, seq: int, digest: str) -> str:
    """HMAC-SHA256 over a chain position; `kind` ("checkpoint" | "anchor") separates uses."""
    return hmac.new(key, f"audit-{kind}:{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def check_seal(keys: Sequence[bytes], kind: str, seq: int, digest: str, mac: str) -> str:
    """ "" if `mac` seals (seq, digest) under one of `keys`, else a problem code."""
    if not keys:
        return f"{kind}_key_missing" if mac else ""
    if not mac:
        return f"{kind}_unsigned"
    for key in keys:
        if hmac.compare_digest(mac, seal(key, kind, seq, digest)):
            return ""
    return f"{kind}_bad_signature"


def row_from_db(row: sqlite3.Row) -> AuditRow:
    """An AuditRow from a `SELECT *` row of audit_log."""
    return AuditRow(
        seq=row["seq"],
        ts=from_iso(row["ts"]),
        event_id=row["event_id"],
        stage=row["stage"],
        actor=row["actor"],
        channel=row["channel"],
        tool=row["tool"],
        decision=row["decision"],
        reason=row["reason"],
        detail=json.loads(row["detail"]),
        args_hash=row["args_hash"],
        latency_ms=row["latency_ms"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def prepare(event: AuditEvent) -> tuple[Any, ...]:
    """The stored values of an event except seq and the hashes (ts .. latency_ms).

    Raises ValueError for a naive ts and StorageError for a detail that is not JSON-safe.
    """
    latency = float(event.latency_ms)
    return (
        to_iso(event.ts),
        event.event_id,
        event.stage,
        event.actor,
        event.channel,
        event.tool,
        str(event.decision),
        str(event.reason),
        canonical_detail(event.detail),
        event.args_hash,
        latency if math.isfinite(latency) else -1.0,
    )


def mask_prepared(
    prepared: Sequence[tuple[Any, ...]], digest: Callable[[str], str]
) -> list[Masked]:
    """`mask` of each prepared event (done before queueing: it is the costly part)."""
    return [mask(values[3], values[4], values[8], digest) for values in prepared]


def chain_rows(
    prepared: Sequence[tuple[Any, ...]],
    seq: int,
    prev: str,
    masks: Sequence[Masked] | None,
) -> list[tuple[Any, ...]]:
    """Stored values (seq .. latency_ms, prev_hash, hash, fmt) of prepared events after `seq`.

    fmt 2 with `masks` (from `mask_prepared`); fmt 1 (the old format, for tests) with None.
    """
    rows: list[tuple[Any, ...]] = []
    for i, values in enumerate(prepared):
        seq += 1
        fields = (seq, *values)
        if masks is None:
            row_digest, fmt = row_hash(fields, prev), 1
        else:
            row_digest, fmt = row_hash_masked(fields, masks[i], prev), 2
        rows.append((*fields, prev, row_digest, fmt))
        prev = row_digest
    return rows


def build_rows(
    events: Sequence[AuditEvent], seq: int, prev: str, digest: Callable[[str], str] | None
) -> list[tuple[Any, ...]]:
    """`chain_rows` of freshly prepared events (fmt 1 without a `digest`)."""
    prepared = [prepare(event) for event in events]
    masks = None if digest is None else mask_prepared(prepared, digest)
    return chain_rows(prepared, seq, prev, masks)


def row_from_values(values: Sequence[Any], detail: Mapping[str, Any]) -> AuditRow:
    """An AuditRow from values as built by `build_rows` and the event's own detail."""
    return AuditRow(
        seq=values[0],
        ts=from_iso(values[1]),
        event_id=values[2],
        stage=values[3],
        actor=values[4],
        channel=values[5],
        tool=values[6],
        decision=values[7],
        reason=values[8],
        detail=dict(detail),
        args_hash=values[10],
        latency_ms=values[11],
        prev_hash=values[12],
        hash=values[13],
    )
