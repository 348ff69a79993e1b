"""Pairing codes: how they look, how they are stored, when one may be issued or tried.

An unknown sender gets an 8-character code from an unambiguous alphabet (no 0/O/1/I/L).
Storage keeps only `hash_code(code, pepper)`, an HMAC-SHA256 under a server pepper, so a
leaked database does not reveal live codes. People may type a code in lower case, with
spaces or dashes (`abcd-efgh`): `normalize_code` undoes that before hashing.

Issuing (`may_issue`): a sender gets no new code within `reissue_after` of the last one
(a live code is replaced, not added to), and a platform holds at most
`max_pending_per_platform` live codes, so a flood of strangers cannot fill the queue.

Trying (`check_code_attempt`): each sender has its own list of failure times. Wrong codes
lock out only the sender that typed them: once `max_failures` failures fall within
`failure_window`, that sender is refused for `lockout` after the last of them, whether
the next code is right or wrong. A right code that expired is PAIRING_CODE_EXPIRED and
does not count as a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from policy.reasons import Reason

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "CodeCheck",
    "PairingRules",
    "check_code_attempt",
    "hash_code",
    "is_locked_out",
    "locked_until",
    "looks_like_code",
    "may_issue",
    "new_code",
    "normalize_code",
    "prune_failures",
    "same_hash",
]

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O/1/I/L
CODE_LENGTH = 8
_ALPHABET_SET = frozenset(ALPHABET)


def new_code() -> str:
    """A fresh code: 8 characters from ALPHABET, drawn with `secrets` (about 40 bits)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """Upper-case and drop whitespace and dashes, so `abcd-efgh` and `ABCDEFGH` agree."""
    return "".join(ch for ch in text.upper() if ch != "-" and not ch.isspace())


def looks_like_code(text: str) -> bool:
    """Whether `text`, normalized, has the shape of a code (length and alphabet)."""
    code = normalize_code(text)
    return len(code) == CODE_LENGTH and set(code) <= _ALPHABET_SET


def hash_code(code: str, pepper: bytes) -> str:
    """HMAC-SHA256 (hex) of the normalized code under the server pepper; store only this."""
    if not pepper:
        raise ValueError("pairing pepper must not be empty")
    return hmac.new(pepper, normalize_code(code).encode(), hashlib.sha256).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hex hashes."""
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingRules:
    """Limits on issuing and trying pairing codes (config `pairing`)."""

    ttl: timedelta = timedelta(hours=1)
    max_pending_per_platform: int = 3
    reissue_after: timedelta = timedelta(minutes=10)
    max_failures: int = 5
    failure_window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        if self.max_pending_per_platform < 1:
            raise ValueError("max_pending_per_platform must be at least 1")
        if self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if self.failure_window <= timedelta(0) or self.lockout <= timedelta(0):
            raise ValueError("failure_window and lockout must be positive")
        if self.reissue_after < timedelta(0):
            raise ValueError("reissue_after must not be negative")


def may_issue(
    *,
    rules: PairingRules,
    now: datetime,
    pending_on_platform: int,
    last_issued_to_sender: datetime | None,
    sender_has_live_code: bool,
) -> Reason:
    """PAIRING_CODE_ISSUED when a new code may be issued to this sender now, else why not.

    `pending_on_platform` counts live (unexpired, undecided) codes on the platform,
    including the sender's own; a reissue replaces the sender's code, so it is not
    counted against the cap. A last-issued time in the future (clock skew) is too soon.
    """
    if last_issued_to_sender is not None and now < last_issued_to_sender + rules.reissue_after:
        return Reason.PAIRING_CODE_REISSUE_TOO_SOON
    others = pending_on_platform - (1 if sender_has_live_code else 0)
    if others >= rules.max_pending_per_platform:
        return Reason.PAIRING_TOO_MANY_PENDING
    return Reason.PAIRING_CODE_ISSUED


def is_locked_out(*, rules: PairingRules, now: datetime, failures_in_window: int) -> bool:
    """Count-based check: True when the sender has `max_failures` failures in the window.

    The caller counts the sender's failures after `now - rules.failure_window`. Prefer
    `locked_until`/`check_code_attempt` with failure times, which also honour `lockout`.
    """
    del now  # the caller already applied the window
    return failures_in_window >= rules.max_failures


def locked_until(*, rules: PairingRules, failures: Sequence[datetime]) -> datetime | None:
    """When the sender's lockout ends, or None if these failures never locked them out."""
    times = sorted(failures)
    n = rules.max_failures
    until: datetime | None = None
    for i in range(n - 1, len(times)):
        if times[i] - times[i - n + 1] <= rules.failure_window:
            end = times[i] + rules.lockout
            until = end if until is None else max(until, end)
    return until


def prune_failures(
    *, rules: PairingRules, now: datetime, failures: Sequence[datetime]
) -> tuple[datetime, ...]:
    """Drop failure times that can no longer matter (older than window + lockout)."""
    horizon = now - rules.failure_window - rules.lockout
    return tuple(sorted(t for t in failures if t > horizon))


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeCheck:
    """Result of one code attempt and the sender's failure times to store."""

    reason: (
        Reason  # PAIRING_APPROVED, PAIRING_CODE_INVALID, PAIRING_CODE_EXPIRED, PAIRING_LOCKED_OUT
    )
    failures: tuple[datetime, ...]
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        """Whether the code was right, live, and the sender not locked out."""
        return self.reason is Reason.PAIRING_APPROVED


def check_code_attempt(
    *,
    rules: PairingRules,
    now: datetime,
    failures: Sequence[datetime],
    candidate_hash: str,
    stored_hash: str | None,
    expires_at: datetime | None,
) -> CodeCheck:
    """Judge one attempt by one sender.

    `failures` are this sender's earlier failure times; `candidate_hash` is
    `hash_code(text, pepper)` of what they typed; `stored_hash`/`expires_at` belong to the
    pending pairing found for it (None when there is none). Returns the reason and the
    failure times to store back for this sender.
    """
    kept = prune_failures(rules=rules, now=now, failures=failures)
    until = locked_until(rules=rules, failures=kept)
    if until is not None and now < until:
        return CodeCheck(reason=Reason.PAIRING_LOCKED_OUT, failures=kept, locked_until=until)
    if stored_hash is None or not same_hash(candidate_hash, stored_hash):
        after = (*kept, now)
        until = locked_until(rules=rules, failures=after)
        if until is not None and now < until:
            return CodeCheck(reason=Reason.PAIRING_LOCKED_OUT, failures=after, locked_until=until)
        return CodeCheck(reason=Reason.PAIRING_CODE_INVALID, failures=after)
    if expires_at is None or now >= expires_at:
        return CodeCheck(reason=Reason.PAIRING_CODE_EXPIRED, failures=kept)
    return CodeCheck(reason=Reason.PAIRING_APPROVED, failures=())
