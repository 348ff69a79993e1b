"""Autonomy levels and tool risk, and the gate that decides between running now and approval.

The gate, by autonomy level and risk (rows: autonomy; columns: LOW MEDIUM HIGH CRITICAL):

    AUTONOMOUS   run   run   run   approval by an admin
    SUPERVISED   run   run   ask   approval by an admin
    APPROVAL     ask   ask   ask   approval by an admin

CRITICAL always needs approval, and always by an admin, whatever the autonomy level: a
critical tool is exactly the case where a second, privileged pair of eyes is wanted, and
"autonomous" must not silently mean "unreviewed destruction". `escalate=True` (the
injection scanner asked for approval) forces approval at every level; the gate's reason
is then INJECTION_ESCALATE when escalation is what made approval necessary.

When both a user level and a channel level are set, the more restrictive one applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from policy.reasons import Reason

__all__ = ["Autonomy", "Gate", "Risk", "gate", "lower", "resolve_autonomy"]

_E = TypeVar("_E", bound=IntEnum)


def _parse_level(cls: type[_E], text: str | _E) -> _E:
    """Case-insensitive lookup by name (a member passes through); errors list valid names."""
    if isinstance(text, cls):
        return text
    key = text.strip().upper() if isinstance(text, str) else ""
    try:
        return cls[key]
    except KeyError:
        names = ", ".join(m.name.lower() for m in cls)
        raise ValueError(
            f"unknown {cls.__name__.lower()} level; expected one of: {names}"
        ) from None


class Risk(IntEnum):
    """How much harm a tool can do; from config `risk: low|medium|high|critical`."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, text: str | Risk) -> Risk:
        """`Risk.parse("high")` -> Risk.HIGH; ValueError for anything else."""
        return _parse_level(cls, text)


class Autonomy(IntEnum):
    """How much the bot may do without a human approving; higher is more autonomous."""

    APPROVAL = 0
    SUPERVISED = 1
    AUTONOMOUS = 2

    @classmethod
    def parse(cls, text: str | Autonomy) -> Autonomy:
        """`Autonomy.parse("supervised")` -> Autonomy.SUPERVISED; ValueError otherwise."""
        return _parse_level(cls, text)


def resolve_autonomy(
    *, default: Autonomy, user_level: Autonomy | None, channel_level: Autonomy | None
) -> Autonomy:
    """The more restrictive of the user and channel levels when both are set, else the set one."""
    if user_level is not None and channel_level is not None:
        return min(user_level, channel_level)
    if user_level is not None:
        return user_level
    if channel_level is not None:
        return channel_level
    return default


def lower(a: Autonomy) -> Autonomy:
    """One step toward APPROVAL (APPROVAL stays APPROVAL)."""
    return Autonomy(max(a - 1, Autonomy.APPROVAL))


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    """Run now, or park for approval (by an admin when `admin_required`)."""

    needs_approval: bool
    admin_required: bool
    reason: Reason


_APPROVAL_FROM: dict[Autonomy, Risk] = {
    # the lowest risk that needs approval at each level
    Autonomy.APPROVAL: Risk.LOW,
    Autonomy.SUPERVISED: Risk.HIGH,
    Autonomy.AUTONOMOUS: Risk.CRITICAL,
}


def gate(*, autonomy: Autonomy, risk: Risk, escalate: bool = False) -> Gate:
    """Decide whether a permitted request runs now or needs approval (see module table)."""
    by_level = risk >= _APPROVAL_FROM.get(autonomy, Risk.LOW)  # unknown level: ask
    admin_required = risk >= Risk.CRITICAL
    if by_level or admin_required:
        return Gate(
            needs_approval=True, admin_required=admin_required, reason=Reason.APPROVAL_REQUIRED
        )
    if escalate:
        return Gate(needs_approval=True, admin_required=False, reason=Reason.INJECTION_ESCALATE)
    return Gate(needs_approval=False, admin_required=False, reason=Reason.RUN_NOW)
