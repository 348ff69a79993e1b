"""Tests for the approval state machine, approver checks and tokens in policy/approvals.py."""

from __future__ import annotations

import itertools
import random
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from policy.approvals import (
    PUBLIC_ID_ALPHABET,
    ApprovalStatus,
    Decision,
    Transition,
    check_approver,
    is_token_shaped,
    mark_executed,
    new_public_id,
    new_token,
    request_hash,
    token_hash,
    transition,
)
from policy.reasons import Reason

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EXPIRES = T0 + timedelta(minutes=15)
REQ = "slack:T1:req"
APPR = "slack:T1:appr"
ADMIN = "slack:T1:admin"
OUTSIDER = "slack:T1:nobody"
APPROVERS = frozenset({APPR, REQ})
ADMINS = frozenset({ADMIN})

TRANSITIONS = [
    (ApprovalStatus.PENDING, Decision.APPROVE, T0, ApprovalStatus.APPROVED, Reason.APPROVED),
    (ApprovalStatus.PENDING, Decision.DENY, T0, ApprovalStatus.DENIED, Reason.DENIED_BY_APPROVER),
    (ApprovalStatus.PENDING, "expire", T0, ApprovalStatus.EXPIRED, Reason.APPROVAL_EXPIRED),
    (ApprovalStatus.PENDING, "cancel", T0, ApprovalStatus.CANCELLED, Reason.APPROVAL_CANCELLED),
    (
        ApprovalStatus.PENDING,
        Decision.APPROVE,
        EXPIRES,
        ApprovalStatus.EXPIRED,
        Reason.APPROVAL_EXPIRED,
    ),
    (
        ApprovalStatus.PENDING,
        Decision.APPROVE,
        EXPIRES - timedelta(microseconds=1),
        ApprovalStatus.APPROVED,
        Reason.APPROVED,
    ),
    (
        ApprovalStatus.PENDING,
        Decision.DENY,
        EXPIRES,
        ApprovalStatus.DENIED,
        Reason.DENIED_BY_APPROVER,
    ),
]


@pytest.mark.parametrize(
    ("current", "decision", "now", "status", "reason"),
    TRANSITIONS,
    ids=[
        "approve",
        "deny",
        "expire",
        "cancel",
        "approve-at-expiry-expires",
        "approve-just-before-expiry",
        "deny-after-expiry-still-denies",
    ],
)
def test_transition_from_pending(
    current: ApprovalStatus,
    decision: Transition,
    now: datetime,
    status: ApprovalStatus,
    reason: Reason,
) -> None:
    """Every decision moves a PENDING request exactly once to its documented state."""
    assert transition(current, decision, now=now, expires_at=EXPIRES) == (status, reason)


def test_no_transition_out_of_a_final_state() -> None:
    """Every non-PENDING status stays put with ALREADY_DECIDED, whatever arrives and when."""
    decisions: list[Transition] = [Decision.APPROVE, Decision.DENY, "expire", "cancel"]
    finals = [s for s in ApprovalStatus if s is not ApprovalStatus.PENDING]
    for current, decision, now in itertools.product(finals, decisions, [T0, EXPIRES]):
        got = transition(current, decision, now=now, expires_at=EXPIRES)
        assert got == (current, Reason.ALREADY_DECIDED)


def test_only_one_of_many_taps_wins() -> None:
    """Replaying a stream of taps through the machine approves at most once."""
    status = ApprovalStatus.PENDING
    results = []
    for decision in [Decision.APPROVE, Decision.APPROVE, Decision.DENY, Decision.APPROVE]:
        status, reason = transition(status, decision, now=T0, expires_at=EXPIRES)
        results.append(reason)
    assert results.count(Reason.APPROVED) == 1
    assert results[1:] == [Reason.ALREADY_DECIDED] * 3
    assert status is ApprovalStatus.APPROVED


def test_status_read_back_as_plain_string_still_works() -> None:
    """A status loaded from storage as a plain string is compared by value."""
    got = transition("pending", Decision.APPROVE, now=T0, expires_at=EXPIRES)  # type: ignore[arg-type]
    assert got == (ApprovalStatus.APPROVED, Reason.APPROVED)


def test_unknown_decision_never_moves() -> None:
    """Garbage in the decision slot leaves the request PENDING."""
    got = transition(ApprovalStatus.PENDING, "approve!", now=T0, expires_at=EXPIRES)  # type: ignore[arg-type]
    assert got == (ApprovalStatus.PENDING, Reason.INTERNAL_ERROR)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (ApprovalStatus.APPROVED, (ApprovalStatus.EXECUTED, Reason.EXECUTED)),
        (ApprovalStatus.EXECUTED, (ApprovalStatus.EXECUTED, Reason.ALREADY_DECIDED)),
        (ApprovalStatus.PENDING, (ApprovalStatus.PENDING, Reason.ALREADY_DECIDED)),
        (ApprovalStatus.DENIED, (ApprovalStatus.DENIED, Reason.ALREADY_DECIDED)),
    ],
    ids=["approved", "twice", "pending", "denied"],
)
def test_mark_executed(current: ApprovalStatus, expected: tuple[ApprovalStatus, Reason]) -> None:
    """Only an APPROVED request can be executed, and only once."""
    assert mark_executed(current) == expected


APPROVER_CASES = [
    # presser, admin_required, allow_self, decision, expected
    (APPR, False, False, Decision.APPROVE, Reason.OK),
    (ADMIN, False, False, Decision.APPROVE, Reason.OK),
    (OUTSIDER, False, False, Decision.APPROVE, Reason.NOT_AN_APPROVER),
    ("", False, True, Decision.APPROVE, Reason.NOT_AN_APPROVER),
    (REQ, False, False, Decision.APPROVE, Reason.SELF_APPROVAL),
    (REQ, False, True, Decision.APPROVE, Reason.OK),
    (APPR, True, False, Decision.APPROVE, Reason.ADMIN_APPROVER_REQUIRED),
    (ADMIN, True, False, Decision.APPROVE, Reason.OK),
    (REQ, True, True, Decision.APPROVE, Reason.ADMIN_APPROVER_REQUIRED),
    (OUTSIDER, True, True, Decision.APPROVE, Reason.NOT_AN_APPROVER),
    (REQ, False, False, Decision.DENY, Reason.OK),
    (APPR, True, False, Decision.DENY, Reason.OK),
    (OUTSIDER, True, False, Decision.DENY, Reason.NOT_AN_APPROVER),
]


@pytest.mark.parametrize(
    ("presser", "admin_required", "allow_self", "decision", "expected"),
    APPROVER_CASES,
    ids=[
        "approver",
        "admin-is-approver",
        "outsider",
        "empty-presser",
        "self-refused",
        "self-allowed",
        "admin-required-plain-approver",
        "admin-required-admin",
        "admin-required-self-not-admin",
        "admin-required-outsider",
        "requester-may-withdraw",
        "any-approver-may-deny-critical",
        "outsider-may-not-deny",
    ],
)
def test_check_approver(
    presser: str, admin_required: bool, allow_self: bool, decision: Decision, expected: Reason
) -> None:
    """Each row is one documented approver rule."""
    got = check_approver(
        presser=presser,
        requester=REQ,
        approvers=APPROVERS,
        admins=ADMINS,
        admin_required=admin_required,
        allow_self_approval=allow_self,
        decision=decision,
    )
    assert got == expected


def test_admin_can_never_self_approve_a_critical_request() -> None:
    """With admin_required, an admin requester cannot approve their own request, whatever is set."""
    for allow_self in (False, True):
        got = check_approver(
            presser=ADMIN,
            requester=ADMIN,
            approvers=frozenset(),
            admins=ADMINS,
            admin_required=True,
            allow_self_approval=allow_self,
        )
        assert got is Reason.SELF_APPROVAL


LINKS = {REQ: "p", "slack:T1:req-phone": "p", ADMIN: "q", "slack:T1:admin-laptop": "q"}
LINKED = [
    # (presser, requester, admins, admin_required, allow_self, decision, expected)
    ("slack:T1:req-phone", REQ, ADMINS, False, False, Decision.APPROVE, Reason.SELF_APPROVAL),
    ("slack:T1:req-phone", REQ, ADMINS, False, True, Decision.APPROVE, Reason.OK),
    ("slack:T1:req-phone", REQ, ADMINS, False, False, Decision.DENY, Reason.OK),
    (
        "slack:T1:admin-laptop",
        ADMIN,
        ADMINS | {"slack:T1:admin-laptop"},
        True,
        True,
        Decision.APPROVE,
        Reason.SELF_APPROVAL,
    ),
    (APPR, REQ, ADMINS, False, False, Decision.APPROVE, Reason.OK),
]


@pytest.mark.parametrize(
    ("presser", "requester", "admins", "admin_required", "allow_self", "decision", "expected"),
    LINKED,
    ids=[
        "linked-approver-is-self",
        "linked-self-allowed-by-config",
        "linked-may-withdraw",
        "linked-admins-critical-never",
        "someone-else",
    ],
)
def test_check_approver_compares_persons(
    presser: str,
    requester: str,
    admins: frozenset[str],
    admin_required: bool,
    allow_self: bool,
    decision: Decision,
    expected: Reason,
) -> None:
    """Approving from another identity of the requester's person is self-approval (two-person rule holds)."""
    got = check_approver(
        presser=presser,
        requester=requester,
        approvers=APPROVERS | {"slack:T1:req-phone"},
        admins=admins,
        admin_required=admin_required,
        allow_self_approval=allow_self,
        decision=decision,
        links=LINKS,
    )
    assert got == expected


def test_tokens_are_url_safe_unique_and_hashed_with_a_key() -> None:
    """Tokens fit a button payload, do not repeat, and their hash depends on the key."""
    tokens = {new_token() for _ in range(500)}
    assert len(tokens) == 500
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)
        assert is_token_shaped(token)
    token = next(iter(tokens))
    h1 = token_hash(token, b"key-one")
    assert re.fullmatch(r"[0-9a-f]{64}", h1)
    assert h1 == token_hash(token, b"key-one")
    assert h1 != token_hash(token, b"key-two")
    assert token not in h1


@pytest.mark.parametrize(
    "text",
    ["", "short", "a" * 33, "has space in it ok", "slash/slash/slash", "ümlaut-ümlaut-üü"],
    ids=["empty", "short", "long", "space", "slash", "non-ascii"],
)
def test_is_token_shaped_rejects(text: str) -> None:
    """Anything that cannot be one of our tokens is rejected before any lookup."""
    assert not is_token_shaped(text)


def test_token_hash_refuses_empty_key() -> None:
    """An empty HMAC key would make hashes forgeable by anyone: refuse it."""
    with pytest.raises(ValueError, match="must not be empty"):
        token_hash("abc", b"")


def test_public_ids_use_the_unambiguous_alphabet() -> None:
    """Public ids are six characters without 0/O/1/I/L."""
    for _ in range(200):
        pid = new_public_id()
        assert len(pid) == 6
        assert set(pid) <= set(PUBLIC_ID_ALPHABET)
    assert not set("0O1IL") & set(PUBLIC_ID_ALPHABET)


BASE = {
    "requester": REQ,
    "channel": "slack:T1:C1",
    "tool": "logs",
    "argv": ("journalctl", "-u", "api"),
    "created_at": T0,
}


@pytest.mark.parametrize(
    "change",
    [
        {"requester": APPR},
        {"channel": None},
        {"channel": "slack:T1:C2"},
        {"tool": "logs2"},
        {"argv": ("journalctl", "-u", "db")},
        {"argv": ("journalctl", "-u api")},
        {"argv": ("journalctl", "-u", "api", "")},
        {"created_at": T0 + timedelta(microseconds=1)},
    ],
    ids=["requester", "dm", "channel", "tool", "arg", "joined-args", "extra-empty-arg", "time"],
)
def test_request_hash_binds_every_field(change: dict[str, object]) -> None:
    """Changing any field of the request changes its hash."""
    assert request_hash(**BASE) != request_hash(**{**BASE, **change})  # type: ignore[arg-type]


def test_request_hash_is_stable_across_time_zones() -> None:
    """The same instant written in another zone hashes the same; list and tuple argv agree."""
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    same = {**BASE, "created_at": plus_two, "argv": list(BASE["argv"])}  # type: ignore[call-overload]
    assert request_hash(**BASE) == request_hash(**same)  # type: ignore[arg-type]
    assert re.fullmatch(r"[0-9a-f]{64}", request_hash(**BASE))  # type: ignore[arg-type]


def test_request_hash_refuses_naive_time() -> None:
    """A naive created_at would hash differently on another host: refuse it."""
    with pytest.raises(ValueError, match="timezone-aware"):
        request_hash(
            requester=REQ, channel=None, tool="t", argv=(), created_at=datetime(2026, 1, 1)
        )


@pytest.mark.parametrize("seed", range(10), ids=lambda s: f"seed{s}")
def test_random_event_streams_move_once(seed: int) -> None:
    """Any stream of taps, expiries and cancels moves a request once, as its first event says."""
    rng = random.Random(seed)
    events: list[Transition] = [Decision.APPROVE, Decision.DENY, "expire", "cancel"]
    first_outcome = {
        Decision.DENY: ApprovalStatus.DENIED,
        "expire": ApprovalStatus.EXPIRED,
        "cancel": ApprovalStatus.CANCELLED,
    }
    for _ in range(200):
        status = ApprovalStatus.PENDING
        stream = [
            (rng.choice(events), T0 + timedelta(minutes=rng.uniform(0, 30))) for _ in range(5)
        ]
        moves = 0
        for event, now in stream:
            status, reason = transition(status, event, now=now, expires_at=EXPIRES)
            moves += reason is not Reason.ALREADY_DECIDED
        assert moves == 1
        event, now = stream[0]
        if event == Decision.APPROVE:
            expected = ApprovalStatus.APPROVED if now < EXPIRES else ApprovalStatus.EXPIRED
        else:
            expected = first_outcome[event]
        assert status is expected
