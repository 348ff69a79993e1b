"""The one decision about a tool request: may this person run this tool with these arguments, now?

    verdict = decide(standing, ask)

`standing` is the state as read at one moment (identities, links, roles, grants,
lockdown, autonomy, budgets, who can be reached); `ask` is the request. The same
function decides a new request (the allowlist and approval-gate stages), re-decides a
parked request when an approver taps Approve and again just before it runs, sweeps
waiting requests after an admin change, and answers `policy explain` / `/explain`; so
they cannot disagree. Every check is evaluated and returned, in this order:

    identity   the requester's key is a well-formed `platform:tenant:user`
    paired     the requester is paired, or holds a role (roles are known without pairing)
    banned     no identity of the requester's person is banned
    lockdown   the bot is not locked down, or the requester is an admin
    tool       the tool exists
    allowlist  the person may use the tool here (`permissions.decide_person`)
    arguments  the arguments still validate and render to the same argv
    secrets    no argument holds a configured secret value
    budget     the person's runs and CPU seconds today are under the most restrictive budget
    approval   autonomy x risk (and the injection scanner) say: run now, or ask
    approvers  when asking: someone other than the requester's person may approve, and can be reached

The first failed check of the first nine decides a denial (`Verdict.blocking`); the
`approvers` check only matters while a request still needs an approver. Autonomy is
the most restrictive over the person's identities. The `why` of a check is words for
people and the audit log: it never holds an argument value or a secret.

Pure: no I/O, time passed in through `standing`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from policy.autonomy import Autonomy, Risk, gate, resolve_autonomy
from policy.permissions import GrantEntry, Rules, decide_person
from policy.persons import Person, person_of
from policy.ratelimit import Budget, check_budget
from policy.reasons import Reason
from policy.tools import ArgError, ToolSpec, render_argv, validate_args

__all__ = [
    "STANDING_CHECKS",
    "Ask",
    "AutonomyRules",
    "Check",
    "Reach",
    "Standing",
    "Verdict",
    "decide",
    "is_identity_key",
]

_KEY = re.compile(r"(console|slack|telegram):[^:\s]+:[^:\s]+")

STANDING_CHECKS = (
    "identity",
    "paired",
    "banned",
    "lockdown",
    "tool",
    "allowlist",
    "arguments",
    "secrets",
    "budget",
)
"""The checks that must pass whenever a request is decided, parked or resumed."""


def is_identity_key(key: str) -> bool:
    """Whether `key` is a well-formed `platform:tenant:user` of a platform we serve."""
    return _KEY.fullmatch(key) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class AutonomyRules:
    """The autonomy levels in force: a default, and levels by user key and by channel key."""

    default: Autonomy
    users: Mapping[str, Autonomy] = field(default_factory=dict)
    channels: Mapping[str, Autonomy] = field(default_factory=dict)

    def level(self, members: frozenset[str], place: str) -> Autonomy:
        """The most restrictive level over the person's identities in this conversation."""
        channel = self.channels.get(place)
        return min(
            resolve_autonomy(
                default=self.default, user_level=self.users.get(k), channel_level=channel
            )
            for k in members
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Reach:
    """Who can receive an approval card now: running platforms, and those with an approvals chat."""

    platforms: frozenset[str]
    chats: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class Standing:
    """The state a decision depends on, as read at one moment."""

    links: Mapping[str, str]
    paired: frozenset[str]
    banned: frozenset[str]
    admins: frozenset[str]
    approvers: frozenset[str]
    rules: Rules
    grants: tuple[GrantEntry, ...] = ()
    lockdown: bool = False
    autonomy: AutonomyRules
    allow_self_approval: bool = False
    budget: Budget
    limits: Mapping[str, Budget] = field(default_factory=dict)  # per identity overrides
    usage: Mapping[str, tuple[float, int]] = field(default_factory=dict)  # today: cpu s, runs
    reach: Reach | None = None  # None: not known (explained from the command line)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ask:
    """A request: who, which tool, where, and (when known) the exact arguments and argv."""

    requester: str
    tool: str
    spec: ToolSpec | None
    channel: str | None = None  # the group channel for the allowlist; None in a direct message
    place: str = ""  # the conversation's key (autonomy by channel)
    args: Mapping[str, str | int] | None = None
    argv: tuple[str, ...] | None = None
    escalate: bool = False
    secret_args: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One check: passed or not, its reason code, and words saying why."""

    name: str
    ok: bool
    reason: Reason
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """Run now, ask an approver, or deny; with every check and what the approval needs."""

    action: Literal["run", "ask", "deny"]
    reason: Reason
    checks: tuple[Check, ...]
    person: Person
    rule: str
    risk: Risk | None
    autonomy: Autonomy | None
    admin_required: bool
    approvers: tuple[str, ...]

    @property
    def blocking(self) -> Check | None:
        """The first failed check that denies whatever an approver says, or None."""
        return next((c for c in self.checks if c.name in STANDING_CHECKS and not c.ok), None)

    def check(self, name: str) -> Check:
        """The check called `name`."""
        return next(c for c in self.checks if c.name == name)


def _budget(standing: Standing, person: Person) -> Check:
    limits = [standing.limits.get(k, standing.budget) for k in sorted(person.members)]
    budget = Budget(
        cpu_seconds_per_day=min(b.cpu_seconds_per_day for b in limits),
        runs_per_day=min(b.runs_per_day for b in limits),
    )
    cpu = sum(standing.usage.get(k, (0.0, 0))[0] for k in person.members)
    runs = sum(standing.usage.get(k, (0.0, 0))[1] for k in person.members)
    used = f"{cpu:.1f} of {budget.cpu_seconds_per_day:g} CPU s, {runs} of {budget.runs_per_day} runs today"
    verdict = check_budget(used_cpu=cpu, used_runs=runs, budget=budget)
    ok = verdict is Reason.OK
    return Check(
        name="budget",
        ok=ok,
        reason=verdict,
        why=used if ok else f"the requester has used today's run budget ({used})",
    )


def _arguments(ask: Ask) -> list[Check]:
    if ask.args is None or ask.spec is None:
        return [
            Check(name="arguments", ok=True, reason=Reason.OK, why="not given"),
            Check(name="secrets", ok=True, reason=Reason.OK, why="not given"),
        ]
    checked = validate_args(ask.spec, {k: str(v) for k, v in ask.args.items()})
    if isinstance(checked, ArgError):
        args = Check(
            name="arguments",
            ok=False,
            reason=checked.reason,
            why=f"the arguments are not valid for {ask.tool} any more ({checked.message})",
        )
    elif ask.argv is not None and render_argv(ask.spec, checked) != tuple(ask.argv):
        args = Check(
            name="arguments",
            ok=False,
            reason=Reason.BAD_ARGUMENTS,
            why=f"the arguments no longer render to the command line that was asked for ({ask.tool})",
        )
    else:
        args = Check(name="arguments", ok=True, reason=Reason.OK, why="valid")
    if ask.secret_args:
        names = ", ".join(sorted(ask.secret_args))
        secrets = Check(
            name="secrets",
            ok=False,
            reason=Reason.SECRET_IN_ARGUMENTS,
            why=f"an argument holds the value of a configured secret ({names})",
        )
    else:
        secrets = Check(name="secrets", ok=True, reason=Reason.OK, why="none in the arguments")
    return [args, secrets]


def _approvers(
    standing: Standing, person: Person, admin_required: bool
) -> tuple[Check, tuple[str, ...]]:
    """Who may approve (as identities, sorted), and whether that is anyone reachable."""
    pool = standing.admins if admin_required else standing.admins | standing.approvers
    role = "admin" if admin_required else "approver or admin"
    self_ok = standing.allow_self_approval and not admin_required
    others = pool if self_ok else pool - person.members
    usable = sorted(
        p for p in others if not (person_of(p, standing.links).members & standing.banned)
    )
    if not pool:
        return Check(
            name="approvers",
            ok=False,
            reason=Reason.NO_APPROVERS,
            why=f"it needs an {role}'s approval, and nobody holds that role",
        ), ()
    if not others:
        if admin_required:
            why = "it is critical: only another admin may approve it, and every admin is the requester"
            return Check(name="approvers", ok=False, reason=Reason.NO_OTHER_ADMIN, why=why), ()
        why = "only someone other than the requester may approve it, and every approver is the requester"
        return Check(name="approvers", ok=False, reason=Reason.NO_OTHER_APPROVER, why=why), ()
    if not usable:
        why = f"every {role} who could approve it is banned"
        return Check(name="approvers", ok=False, reason=Reason.NO_APPROVERS, why=why), ()
    reach = standing.reach
    if (
        reach is not None
        and not (reach.chats & reach.platforms)
        and not any(p.split(":", 1)[0] in reach.platforms for p in usable)
    ):
        why = (
            "no one who may approve it is on a running platform, and no approvals chat is set "
            f"(may approve: {', '.join(usable)})"
        )
        return Check(
            name="approvers", ok=False, reason=Reason.APPROVERS_UNREACHABLE, why=why
        ), tuple(usable)
    who = "an admin other than the requester" if admin_required else "an approver"
    return Check(
        name="approvers",
        ok=True,
        reason=Reason.OK,
        why=f"{who} may approve: {', '.join(usable)}",
    ), tuple(usable)


def _standing_checks(standing: Standing, ask: Ask, person: Person) -> tuple[list[Check], str]:
    """Every check that does not depend on an approver, and the allowlist rule."""
    key = ask.requester
    valid = is_identity_key(key)
    checks = [
        Check(
            name="identity",
            ok=valid,
            reason=Reason.OK if valid else Reason.INVALID_IDENTITY,
            why="well-formed" if valid else "not a platform:tenant:user identity",
        )
    ]
    roles = standing.admins | standing.approvers
    if key in standing.paired:
        checks.append(Check(name="paired", ok=True, reason=Reason.KNOWN_USER, why="paired"))
    elif key in standing.banned:  # a banned identity is known: the ban check says the rest
        why = "known to the bot (and banned)"
        checks.append(Check(name="paired", ok=True, reason=Reason.KNOWN_USER, why=why))
    elif key in roles:
        checks.append(Check(name="paired", ok=True, reason=Reason.ROLE_USER, why="holds a role"))
    else:
        why = "the requester is not paired with the bot"
        checks.append(Check(name="paired", ok=False, reason=Reason.UNKNOWN_USER, why=why))
    banned = sorted(person.members & standing.banned)
    if banned:
        linked = "" if banned == [key] else f" ({', '.join(banned)}, linked)"
        why = f"the requester is banned{linked}"
        checks.append(Check(name="banned", ok=False, reason=Reason.BANNED, why=why))
    else:
        checks.append(Check(name="banned", ok=True, reason=Reason.OK, why="not banned"))
    if standing.lockdown and key not in standing.admins:
        why = "the bot is locked down: only admins may use it"
        checks.append(Check(name="lockdown", ok=False, reason=Reason.LOCKDOWN, why=why))
    else:
        why = "on, but the requester is an admin" if standing.lockdown else "off"
        checks.append(Check(name="lockdown", ok=True, reason=Reason.OK, why=why))
    if ask.spec is None:
        why = f"there is no tool called {ask.tool}"
        checks.append(Check(name="tool", ok=False, reason=Reason.UNKNOWN_TOOL, why=why))
        rule = "none"
    else:
        risk = ask.spec.risk.name.lower()
        checks.append(Check(name="tool", ok=True, reason=Reason.OK, why=f"{risk} risk"))
        permission = decide_person(
            standing.rules,
            user=key,
            members=person.members,
            tool=ask.tool,
            channel=ask.channel,
            grants=standing.grants,
        )
        rule = permission.rule
        if permission.allowed:
            why = f"allowed by {rule}"
        else:
            why = f"the requester may not use {ask.tool} here (denied by {rule})"
        checks.append(
            Check(name="allowlist", ok=permission.allowed, reason=permission.reason, why=why)
        )
    checks.extend(_arguments(ask))
    checks.append(_budget(standing, person))
    return checks, rule


def decide(standing: Standing, ask: Ask) -> Verdict:
    """The decision about `ask` given `standing` (see module docstring)."""
    person = person_of(ask.requester, standing.links)
    checks, rule = _standing_checks(standing, ask, person)
    spec = ask.spec
    risk = spec.risk if spec is not None else None
    level = standing.autonomy.level(person.members, ask.place)
    admin_required = False
    approvers: tuple[str, ...] = ()
    needs = False
    if risk is not None:
        g = gate(autonomy=level, risk=risk, escalate=ask.escalate)
        needs, admin_required = g.needs_approval, g.admin_required
        pair = f"autonomy {level.name.lower()} x risk {risk.name.lower()}"
        if g.reason is Reason.INJECTION_ESCALATE:
            why = f"{pair}; the injection scanner asked for an approver"
        elif admin_required:
            why = f"{pair}: critical tools always need another admin's approval"
        else:
            why = f"{pair}: " + ("needs an approver" if needs else "runs without approval")
        checks.append(Check(name="approval", ok=True, reason=g.reason, why=why))
        if needs:
            approver_check, approvers = _approvers(standing, person, admin_required)
            checks.append(approver_check)
    blocking = next((c for c in checks if c.name in STANDING_CHECKS and not c.ok), None)
    action: Literal["run", "ask", "deny"]
    if blocking is not None:
        action, reason = "deny", blocking.reason
    elif needs:
        approver_check = checks[-1]
        if approver_check.ok:
            action, reason = "ask", checks[-2].reason
        else:
            action, reason = "deny", approver_check.reason
    else:
        action, reason = "run", Reason.RUN_NOW
    return Verdict(
        action=action,
        reason=reason,
        checks=tuple(checks),
        person=person,
        rule=rule,
        risk=risk,
        autonomy=level,
        admin_required=admin_required,
        approvers=approvers,
    )
