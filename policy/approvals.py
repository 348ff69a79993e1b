"""The approval state machine, approver checks, and the tokens that bind a tap to a request.

States: PENDING -> APPROVED | DENIED | EXPIRED | CANCELLED, then APPROVED -> EXECUTED.
Exactly one transition leaves PENDING; every later decision gets ALREADY_DECIDED and the
status unchanged, so concurrent taps and duplicate deliveries cannot act twice (the store
must apply the transition with a compare-and-set on PENDING). An approve arriving at or
after `expires_at` turns the request EXPIRED instead.

Who may decide (`check_approver`), the choices made here:
- admins are approvers too; anyone else is NOT_AN_APPROVER (roles belong to the identity
  that holds them: a linked identity does not inherit them);
- `admin_required` (critical tools) needs an admin: ADMIN_APPROVER_REQUIRED;
- "the requester" is the requester's *person*: every identity linked with theirs
  (`policy/persons.py`). Approving from any of them is SELF_APPROVAL unless
  `allow_self_approval`, and is refused even then when `admin_required`: the two-person
  rule for critical tools cannot be waived by configuration, nor by linking accounts;
- denying is always safe: any approver or admin may deny, and the requester's person may
  deny (withdraw) their own request.

Tokens: a button carries `new_token()` (22 url-safe characters, 128 random bits); storage
keeps only `token_hash(token, key)` (HMAC-SHA256 under a server key), so someone who can
read the database still cannot forge a working button. `request_hash` binds an approval to
the exact requester, channel, tool and argv, so a parked request cannot be swapped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from policy.persons import same_person
from policy.reasons import Reason

__all__ = [
    "PUBLIC_ID_ALPHABET",
    "ApprovalStatus",
    "Decision",
    "Transition",
    "check_approver",
    "is_token_shaped",
    "mark_executed",
    "new_public_id",
    "new_token",
    "request_hash",
    "token_hash",
    "transition",
]

PUBLIC_ID_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O/1/I/L
PUBLIC_ID_LENGTH = 6
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,32}")


class ApprovalStatus(StrEnum):
    """Where an approval request is in its life."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    EXECUTED = "executed"


class Decision(StrEnum):
    """What an approver's button says."""

    APPROVE = "approve"
    DENY = "deny"


Transition = Decision | Literal["expire", "cancel"]


def new_token() -> str:
    """A fresh single-use button token: 16 random bytes, url-safe base64 without padding."""
    return secrets.token_urlsafe(16)


def is_token_shaped(text: str) -> bool:
    """Whether `text` could be a token (cheap check before hashing what a button sent)."""
    return _TOKEN_RE.fullmatch(text) is not None


def token_hash(token: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of a token under the server key; store this, never the token."""
    if not key:
        raise ValueError("token key must not be empty")
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def new_public_id() -> str:
    """A short id people can read aloud and type (`/approve K7MX2Q`); not a secret."""
    return "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(PUBLIC_ID_LENGTH))


def request_hash(
    *, requester: str, channel: str | None, tool: str, argv: Sequence[str], created_at: datetime
) -> str:
    """SHA-256 (hex) over canonical JSON of the request, binding an approval to it exactly."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    payload = {
        "v": 1,
        "requester": requester,
        "channel": channel,
        "tool": tool,
        "argv": list(argv),
        "created_at": created_at.astimezone(UTC).isoformat(),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_approver(
    *,
    presser: str,
    requester: str,
    approvers: frozenset[str],
    admins: frozenset[str],
    admin_required: bool,
    allow_self_approval: bool,
    decision: Decision = Decision.APPROVE,
    links: Mapping[str, str] | None = None,
) -> Reason:
    """Whether `presser` may make `decision` on `requester`'s request (see module docstring).

    `links` are the stored identity links: the presser and the requester are compared as persons.
    """
    if not presser:
        return Reason.NOT_AN_APPROVER
    mine = same_person(presser, requester, links or {})
    if decision is Decision.DENY:
        if mine or presser in approvers or presser in admins:
            return Reason.OK
        return Reason.NOT_AN_APPROVER
    if presser not in approvers and presser not in admins:
        return Reason.NOT_AN_APPROVER
    if admin_required and presser not in admins:
        return Reason.ADMIN_APPROVER_REQUIRED
    if mine and (admin_required or not allow_self_approval):
        return Reason.SELF_APPROVAL
    return Reason.OK


def transition(
    current: ApprovalStatus,
    decision: Transition,
    *,
    now: datetime,
    expires_at: datetime,
) -> tuple[ApprovalStatus, Reason]:
    """The status after `decision`, and why; only PENDING moves (see module docstring)."""
    if current != ApprovalStatus.PENDING:
        return current, Reason.ALREADY_DECIDED
    if decision == Decision.APPROVE:
        if now >= expires_at:
            return ApprovalStatus.EXPIRED, Reason.APPROVAL_EXPIRED
        return ApprovalStatus.APPROVED, Reason.APPROVED
    if decision == Decision.DENY:
        return ApprovalStatus.DENIED, Reason.DENIED_BY_APPROVER
    if decision == "expire":
        return ApprovalStatus.EXPIRED, Reason.APPROVAL_EXPIRED
    if decision == "cancel":
        return ApprovalStatus.CANCELLED, Reason.APPROVAL_CANCELLED
    return current, Reason.INTERNAL_ERROR  # unknown input never moves a request


def mark_executed(current: ApprovalStatus) -> tuple[ApprovalStatus, Reason]:
    """APPROVED -> EXECUTED when the run is started; anything else is ALREADY_DECIDED."""
    if current == ApprovalStatus.APPROVED:
        return ApprovalStatus.EXECUTED, Reason.EXECUTED
    return current, Reason.ALREADY_DECIDED
