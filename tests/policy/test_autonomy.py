"""Tests for autonomy levels, risk and the approval gate in policy/autonomy.py."""

from __future__ import annotations

import itertools

import pytest

from policy.autonomy import Autonomy, Gate, Risk, gate, lower, resolve_autonomy
from policy.reasons import Reason

A, S, X = Autonomy.APPROVAL, Autonomy.SUPERVISED, Autonomy.AUTONOMOUS
RUN = Gate(needs_approval=False, admin_required=False, reason=Reason.RUN_NOW)
ASK = Gate(needs_approval=True, admin_required=False, reason=Reason.APPROVAL_REQUIRED)
ADMIN = Gate(needs_approval=True, admin_required=True, reason=Reason.APPROVAL_REQUIRED)
ESC = Gate(needs_approval=True, admin_required=False, reason=Reason.INJECTION_ESCALATE)

GATE_TABLE = [
    (X, Risk.LOW, False, RUN),
    (X, Risk.MEDIUM, False, RUN),
    (X, Risk.HIGH, False, RUN),
    (X, Risk.CRITICAL, False, ADMIN),
    (S, Risk.LOW, False, RUN),
    (S, Risk.MEDIUM, False, RUN),
    (S, Risk.HIGH, False, ASK),
    (S, Risk.CRITICAL, False, ADMIN),
    (A, Risk.LOW, False, ASK),
    (A, Risk.MEDIUM, False, ASK),
    (A, Risk.HIGH, False, ASK),
    (A, Risk.CRITICAL, False, ADMIN),
    (X, Risk.LOW, True, ESC),
    (S, Risk.MEDIUM, True, ESC),
    (S, Risk.HIGH, True, ASK),
    (A, Risk.LOW, True, ASK),
    (X, Risk.CRITICAL, True, ADMIN),
]


@pytest.mark.parametrize(
    ("autonomy", "risk", "escalate", "expected"),
    GATE_TABLE,
    ids=[f"{a.name}-{r.name}{'-escalated' if e else ''}".lower() for a, r, e, _ in GATE_TABLE],
)
def test_gate_table(autonomy: Autonomy, risk: Risk, escalate: bool, expected: Gate) -> None:
    """Each autonomy x risk (x escalation) cell gives the documented gate."""
    assert gate(autonomy=autonomy, risk=risk, escalate=escalate) == expected


def test_gate_is_monotonic() -> None:
    """Less autonomy, more risk or escalation never turns an approval into a run-now."""
    cells = list(itertools.product(Autonomy, Risk, [False, True]))
    for (a1, r1, e1), (a2, r2, e2) in itertools.product(cells, cells):
        if a2 <= a1 and r2 >= r1 and e2 >= e1:
            g1 = gate(autonomy=a1, risk=r1, escalate=e1)
            g2 = gate(autonomy=a2, risk=r2, escalate=e2)
            assert g2.needs_approval >= g1.needs_approval
            assert g2.admin_required >= g1.admin_required


def test_critical_always_needs_an_admin() -> None:
    """Whatever the level or escalation, CRITICAL needs approval by an admin."""
    for autonomy, escalate in itertools.product(Autonomy, [False, True]):
        got = gate(autonomy=autonomy, risk=Risk.CRITICAL, escalate=escalate)
        assert got.needs_approval
        assert got.admin_required


@pytest.mark.parametrize(
    ("default", "user", "channel", "expected"),
    [
        (S, None, None, S),
        (S, X, None, X),
        (S, None, A, A),
        (S, X, A, A),
        (S, A, X, A),
        (A, X, X, X),
        (X, S, X, S),
    ],
    ids=[
        "default",
        "user-only",
        "channel-only",
        "channel-stricter",
        "user-stricter",
        "both-looser-than-default",
        "user-stricter-than-channel",
    ],
)
def test_resolve_autonomy(
    default: Autonomy, user: Autonomy | None, channel: Autonomy | None, expected: Autonomy
) -> None:
    """Both set: the more restrictive wins; one set: that one; none: the default."""
    assert resolve_autonomy(default=default, user_level=user, channel_level=channel) == expected


@pytest.mark.parametrize(
    ("level", "expected"), [(X, S), (S, A), (A, A)], ids=["autonomous", "supervised", "floor"]
)
def test_lower(level: Autonomy, expected: Autonomy) -> None:
    """lower() steps toward APPROVAL and stops there."""
    assert lower(level) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("low", Risk.LOW),
        ("HIGH", Risk.HIGH),
        (" Critical ", Risk.CRITICAL),
        ("medium", Risk.MEDIUM),
    ],
    ids=["lower", "upper", "padded-mixed", "medium"],
)
def test_risk_parse(text: str, expected: Risk) -> None:
    """Risk names parse case-insensitively."""
    assert Risk.parse(text) is expected


@pytest.mark.parametrize("text", ["", "3", "extreme", "hi", "__class__"], ids=str)
def test_risk_parse_rejects(text: str) -> None:
    """Anything but a level name is refused; the error lists valid names."""
    with pytest.raises(ValueError, match="expected one of: low, medium, high, critical"):
        Risk.parse(text)


def test_autonomy_parse() -> None:
    """Autonomy names parse case-insensitively and unknown names are refused."""
    assert Autonomy.parse("Supervised") is Autonomy.SUPERVISED
    assert Autonomy.parse("autonomous") is Autonomy.AUTONOMOUS
    with pytest.raises(ValueError, match="approval, supervised, autonomous"):
        Autonomy.parse("yolo")


def test_levels_are_ordered() -> None:
    """Ordered levels compare as integers (IntEnum)."""
    assert Risk.LOW < Risk.MEDIUM < Risk.HIGH < Risk.CRITICAL
    assert Autonomy.APPROVAL < Autonomy.SUPERVISED < Autonomy.AUTONOMOUS


def test_parse_passes_members_through() -> None:
    """Parsing a value that is already a level returns it; other types are refused."""
    assert Risk.parse(Risk.HIGH) is Risk.HIGH
    assert Autonomy.parse(Autonomy.APPROVAL) is Autonomy.APPROVAL
    with pytest.raises(ValueError, match="expected one of"):
        Risk.parse(2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected one of"):
        Risk.parse(Autonomy.SUPERVISED)  # type: ignore[arg-type]
