"""The one decision (policy/decision.py): every check, persons, and who may approve."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from policy.autonomy import Autonomy, Risk
from policy.decision import Ask, AutonomyRules, Reach, Standing, decide
from policy.permissions import GrantEntry, GroupRule, Rules
from policy.ratelimit import Budget
from policy.reasons import Reason
from policy.tools import ArgSpec, ArgType, ToolSpec, render_argv

R = "telegram:telegram:1"  # the requester
R2 = "slack:T1:UR"  # the requester's other identity
APP = "slack:T1:UAPP"
APP2 = "telegram:telegram:2"
ADM = "console:local:admin"
ADM2 = "slack:T1:UADM"


def spec(name: str, risk: Risk, args: dict[str, ArgSpec] | None = None) -> ToolSpec:
    """A command tool `name ARG...` of this risk."""
    argv = (name, *(f"{{{a}}}" for a in (args or {})))
    return ToolSpec(name=name, kind="command", argv=argv, args=args or {}, risk=risk, timeout=10)


LOW, HIGH, CRIT = spec("low", Risk.LOW), spec("high", Risk.HIGH), spec("crit", Risk.CRITICAL)
EMAIL = spec("add_member", Risk.HIGH, {"email": ArgSpec(name="email", type=ArgType.STR)})
TOOLS = {t.name: t for t in (LOW, HIGH, CRIT, EMAIL)}

BASE = Standing(
    links={},
    paired=frozenset({R}),
    banned=frozenset(),
    admins=frozenset({ADM}),
    approvers=frozenset({APP}),
    rules=Rules(global_tools=frozenset({"low", "high", "crit", "add_member"})),
    autonomy=AutonomyRules(default=Autonomy.SUPERVISED),
    budget=Budget(cpu_seconds_per_day=100, runs_per_day=10),
)


def ask(tool: str = "low", **kw: Any) -> Ask:
    """A request from R in a DM."""
    return Ask(requester=kw.pop("requester", R), tool=tool, spec=TOOLS.get(tool), **kw)


def revoke(subject: str, tool: str) -> GrantEntry:
    """A runtime revoke at user scope."""
    return GrantEntry(scope="user", subject=subject, tool=tool, effect="deny", id=9)


LINKED = {R: "p", R2: "p"}

ROWS: list[tuple[str, Standing, Ask, str, Reason]] = [
    ("low-runs-now", BASE, ask(), "run", Reason.RUN_NOW),
    ("high-asks", BASE, ask("high"), "ask", Reason.APPROVAL_REQUIRED),
    ("unpaired", dataclasses.replace(BASE, paired=frozenset()), ask(), "deny", Reason.UNKNOWN_USER),
    (
        "role-known-without-pairing",
        dataclasses.replace(BASE, paired=frozenset()),
        ask(requester=APP),
        "run",
        Reason.RUN_NOW,
    ),
    ("malformed-user", BASE, ask(requester="bob"), "deny", Reason.INVALID_IDENTITY),
    (
        "banned-linked-identity",
        dataclasses.replace(BASE, links=LINKED, banned=frozenset({R2})),
        ask(),
        "deny",
        Reason.BANNED,
    ),
    ("lockdown", dataclasses.replace(BASE, lockdown=True), ask(), "deny", Reason.LOCKDOWN),
    (
        "lockdown-admin-passes",
        dataclasses.replace(BASE, lockdown=True),
        ask(requester=ADM),
        "run",
        Reason.RUN_NOW,
    ),
    ("unknown-tool", BASE, ask("nope"), "deny", Reason.UNKNOWN_TOOL),
    (
        "revoke-on-linked-identity-binds-person",
        dataclasses.replace(BASE, links=LINKED, grants=(revoke(R2, "low"),)),
        ask(),
        "deny",
        Reason.DENIED_BY_USER,
    ),
    (
        "grant-on-linked-identity-follows-person",
        dataclasses.replace(
            BASE,
            links=LINKED,
            rules=Rules(users={R2: frozenset({"low"})}),
        ),
        ask(),
        "run",
        Reason.RUN_NOW,
    ),
    (
        "group-of-linked-identity-restricts",
        dataclasses.replace(
            BASE,
            links=LINKED,
            rules=dataclasses.replace(
                BASE.rules,
                groups={"interns": GroupRule(members=frozenset({R2}), tools=frozenset())},
            ),
        ),
        ask(),
        "deny",
        Reason.DENIED_BY_GROUP,
    ),
    (
        "secret-in-arguments",
        BASE,
        ask("add_member", args={"email": "x"}, secret_args=frozenset({"email"})),
        "deny",
        Reason.SECRET_IN_ARGUMENTS,
    ),
    (
        "argv-no-longer-matches",
        BASE,
        ask("add_member", args={"email": "a@b.example"}, argv=("add_member", "other")),
        "deny",
        Reason.BAD_ARGUMENTS,
    ),
    (
        "budget-summed-over-person",
        dataclasses.replace(BASE, links=LINKED, usage={R: (1.0, 5), R2: (1.0, 5)}),
        ask(),
        "deny",
        Reason.BUDGET_EXHAUSTED,
    ),
    (
        "most-restrictive-budget-of-person",
        dataclasses.replace(
            BASE,
            links=LINKED,
            usage={R: (0.0, 2)},
            limits={R2: Budget(cpu_seconds_per_day=100, runs_per_day=2)},
        ),
        ask(),
        "deny",
        Reason.BUDGET_EXHAUSTED,
    ),
    (
        "most-restrictive-autonomy-of-person",
        dataclasses.replace(
            BASE,
            links=LINKED,
            autonomy=AutonomyRules(default=Autonomy.AUTONOMOUS, users={R2: Autonomy.APPROVAL}),
        ),
        ask(),
        "ask",
        Reason.APPROVAL_REQUIRED,
    ),
    (
        "critical-only-admin-is-requester",
        BASE,
        ask("crit", requester=ADM),
        "deny",
        Reason.NO_OTHER_ADMIN,
    ),
    (
        "critical-two-linked-admins-are-one-person",
        dataclasses.replace(BASE, admins=frozenset({ADM, ADM2}), links={ADM: "q", ADM2: "q"}),
        ask("crit", requester=ADM),
        "deny",
        Reason.NO_OTHER_ADMIN,
    ),
    (
        "critical-self-approval-config-does-not-waive",
        dataclasses.replace(BASE, allow_self_approval=True),
        ask("crit", requester=ADM),
        "deny",
        Reason.NO_OTHER_ADMIN,
    ),
    (
        "every-approver-is-the-requester",
        dataclasses.replace(
            BASE,
            admins=frozenset(),
            approvers=frozenset({R, R2}),
            links=LINKED,
        ),
        ask("high"),
        "deny",
        Reason.NO_OTHER_APPROVER,
    ),
    (
        "nobody-holds-a-role",
        dataclasses.replace(BASE, admins=frozenset(), approvers=frozenset()),
        ask("high"),
        "deny",
        Reason.NO_APPROVERS,
    ),
    (
        "every-approver-banned",
        dataclasses.replace(BASE, banned=frozenset({ADM, APP})),
        ask("high"),
        "deny",
        Reason.NO_APPROVERS,
    ),
    (
        "approvers-on-no-running-platform",
        dataclasses.replace(BASE, reach=Reach(platforms=frozenset({"telegram"}))),
        ask("high"),
        "deny",
        Reason.APPROVERS_UNREACHABLE,
    ),
    (
        "approvals-chat-reaches",
        dataclasses.replace(
            BASE,
            reach=Reach(platforms=frozenset({"telegram"}), chats=frozenset({"telegram"})),
        ),
        ask("high"),
        "ask",
        Reason.APPROVAL_REQUIRED,
    ),
    (
        "escalation-asks-even-for-low",
        BASE,
        ask(escalate=True),
        "ask",
        Reason.INJECTION_ESCALATE,
    ),
]


@pytest.mark.parametrize(
    ("standing", "request_", "action", "reason"),
    [r[1:] for r in ROWS],
    ids=[r[0] for r in ROWS],
)
def test_decide(standing: Standing, request_: Ask, action: str, reason: Reason) -> None:
    """Each row is one rule of the decision."""
    verdict = decide(standing, request_)
    assert (verdict.action, verdict.reason) == (action, reason)


def test_every_failed_check_is_reported_not_only_the_first() -> None:
    """Unpaired, banned (by a link), locked down and over budget at once: all four say why."""
    standing = dataclasses.replace(
        BASE,
        links=LINKED,
        paired=frozenset(),
        banned=frozenset({R2}),
        lockdown=True,
        usage={R: (500.0, 0)},
    )
    verdict = decide(standing, ask())
    failed = [c.name for c in verdict.checks if not c.ok]
    assert failed == ["paired", "banned", "lockdown", "budget"]
    assert verdict.reason is Reason.UNKNOWN_USER
    assert all(c.why for c in verdict.checks)


def test_approvers_exclude_the_requesters_person_and_banned_people() -> None:
    """Cards never go to the requester's other identities, nor to a banned approver."""
    standing = dataclasses.replace(
        BASE,
        approvers=frozenset({APP, APP2, R2}),
        links={**LINKED, APP2: "z", "console:local:zed": "z"},
        banned=frozenset({"console:local:zed"}),
    )
    verdict = decide(standing, ask("high"))
    assert verdict.action == "ask"
    assert verdict.approvers == (ADM, APP)


def test_critical_approvers_are_other_admins_only() -> None:
    """A critical request is for admins other than the requester's person."""
    standing = dataclasses.replace(BASE, admins=frozenset({ADM, ADM2}))
    verdict = decide(standing, ask("crit"))
    assert verdict.action == "ask" and verdict.admin_required
    assert verdict.approvers == (ADM, ADM2)
    assert decide(standing, ask("crit", requester=ADM)).approvers == (ADM2,)


def test_arguments_that_still_render_to_the_same_argv_pass() -> None:
    """A parked request whose arguments still validate and render the same command line passes."""
    args = {"email": "mallory@evil.example"}
    argv = render_argv(EMAIL, args)
    verdict = decide(BASE, ask("add_member", args=args, argv=argv))
    assert verdict.check("arguments").ok and verdict.action == "ask"


def test_words_never_hold_an_argument_value() -> None:
    """The `why` of every check names arguments, never their values."""
    secret = "sk-live-0123456789abcdef"
    verdict = decide(
        BASE, ask("add_member", args={"email": secret}, secret_args=frozenset({"email"}))
    )
    assert all(secret not in c.why for c in verdict.checks)
    assert "email" in verdict.check("secrets").why
