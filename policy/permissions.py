"""Fail-closed tool allowlist: user > channel > group > global, most specific wins.

Scopes are walked from the most specific. The first scope that *applies* decides, and
nothing less specific is consulted after it:

- user scope applies when `rules.users` has an entry for the user, or a runtime grant at
  user scope names this user and this tool (or "*");
- channel scope likewise with `rules.channels` and the channel (skipped for `channel=None`);
- group scope applies when the user is a member of any configured group (the union of
  their groups' tools is the scope's list), or a runtime group grant for this tool names
  one of those groups;
- global scope applies when `rules.global_tools` is non-empty, or a runtime global grant
  names this tool.

Inside the deciding scope a runtime deny for the tool (or "*") denies; else the tool or
"*" in the scope's list (config entries plus runtime allows) allows; else the scope's
DENIED_BY_* reason denies. No applicable scope is NO_MATCHING_RULE, and so is a global
list that does not hold the tool. An empty list is an entry: it denies everything.

A runtime grant makes its scope apply for that one tool only, so granting alice `deploy`
does not take away the tools she had from a channel or the global list, while revoking
`deploy` from alice denies it even where a wider scope allows it.

A person with linked identities (`decide_person`): each identity is decided as above;
a deny decided at the user or group scope of *any* identity (an entry that does not
list the tool, or a revoke) denies the tool to the person: the most restrictive wins.
Otherwise an allow of any identity allows (grants follow the person). Channel and
global scopes are the same for every identity, so they never single one out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from policy.reasons import Reason

__all__ = [
    "WILDCARD",
    "GrantEntry",
    "GroupRule",
    "PermissionDecision",
    "Rules",
    "allowed_tools",
    "decide",
    "decide_person",
    "explain",
]

WILDCARD = "*"

Scope = Literal["user", "channel", "group", "global"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupRule:
    """A named group from config: who is in it and which tools it may use."""

    members: frozenset[str]
    tools: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules:
    """The `permissions` section of config, keyed by user key / channel key / group name."""

    global_tools: frozenset[str] = frozenset()
    groups: Mapping[str, GroupRule] = field(default_factory=dict)
    channels: Mapping[str, frozenset[str]] = field(default_factory=dict)
    users: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantEntry:
    """A runtime grant or revoke from storage. `subject` is ignored at global scope."""

    scope: Scope
    subject: str
    tool: str
    effect: Literal["allow", "deny"]
    id: int | None = None

    @property
    def label(self) -> str:
        """How the audit row names this grant: `grant#12`, or by scope and subject."""
        if self.id is not None:
            return f"grant#{self.id}"
        return f"grant.{self.scope}.{self.subject}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PermissionDecision:
    """Allowed or not, why, and which rule decided (`users.<key>`, `groups.ops`, `grant#3`)."""

    allowed: bool
    reason: Reason
    rule: str
    # the scope that decided ("user", "channel", "group", "global"); "" when none applied
    scope: str = field(default="", compare=False)


_ALLOW_REASON: dict[Scope, Reason] = {
    "user": Reason.ALLOWED_BY_USER,
    "channel": Reason.ALLOWED_BY_CHANNEL,
    "group": Reason.ALLOWED_BY_GROUP,
    "global": Reason.ALLOWED_BY_GLOBAL,
}
_DENY_REASON: dict[Scope, Reason] = {
    "user": Reason.DENIED_BY_USER,
    "channel": Reason.DENIED_BY_CHANNEL,
    "group": Reason.DENIED_BY_GROUP,
    "global": Reason.NO_MATCHING_RULE,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class _ScopeView:
    """One scope as it applies to one (user, channel, tool): config list and runtime grants."""

    scope: Scope
    name: str  # e.g. "users.console:local:alice"
    configured: frozenset[str] | None  # None: no config entry for this subject
    grants: tuple[GrantEntry, ...]  # runtime grants at this scope for this subject and tool


def _matches(entry_tool: str, tool: str) -> bool:
    return entry_tool in (tool, WILDCARD)


def _scopes(
    rules: Rules, *, user: str, tool: str, channel: str | None, grants: Sequence[GrantEntry]
) -> list[_ScopeView]:
    """Every scope in order, with what applies to this subject (applicable or not)."""
    relevant = [g for g in grants if _matches(g.tool, tool)]
    my_groups = sorted(name for name, g in rules.groups.items() if user in g.members)
    group_tools: frozenset[str] | None = None
    if my_groups:
        group_tools = frozenset().union(*(rules.groups[n].tools for n in my_groups))
    views = [
        _ScopeView(
            scope="user",
            name=f"users.{user}",
            configured=rules.users.get(user),
            grants=tuple(g for g in relevant if g.scope == "user" and g.subject == user),
        )
    ]
    if channel is not None:
        views.append(
            _ScopeView(
                scope="channel",
                name=f"channels.{channel}",
                configured=rules.channels.get(channel),
                grants=tuple(g for g in relevant if g.scope == "channel" and g.subject == channel),
            )
        )
    views.append(
        _ScopeView(
            scope="group",
            name="groups." + (",".join(my_groups) if my_groups else "-"),
            configured=group_tools,
            grants=tuple(g for g in relevant if g.scope == "group" and g.subject in my_groups),
        )
    )
    views.append(
        _ScopeView(
            scope="global",
            name="global",
            configured=rules.global_tools or None,
            grants=tuple(g for g in relevant if g.scope == "global"),
        )
    )
    return views


def _applies(view: _ScopeView) -> bool:
    return view.configured is not None or bool(view.grants)


def _decide_in(view: _ScopeView, tool: str) -> PermissionDecision:
    scope = view.scope
    for g in view.grants:
        if g.effect == "deny":
            return PermissionDecision(
                allowed=False, reason=_DENY_REASON[scope], rule=g.label, scope=scope
            )
    configured = view.configured or frozenset()
    if tool in configured or WILDCARD in configured:
        return PermissionDecision(
            allowed=True, reason=_ALLOW_REASON[scope], rule=view.name, scope=scope
        )
    for g in view.grants:
        if g.effect == "allow":
            return PermissionDecision(
                allowed=True, reason=Reason.ALLOWED_BY_GRANT, rule=g.label, scope=scope
            )
    return PermissionDecision(
        allowed=False, reason=_DENY_REASON[scope], rule=view.name, scope=scope
    )


def _bad_request(user: str, tool: str) -> bool:
    # A tool literally named "*" or an empty identity must never match a wildcard.
    return not user or not tool or tool == WILDCARD


def decide(
    rules: Rules,
    *,
    user: str,
    tool: str,
    channel: str | None,
    grants: Sequence[GrantEntry] = (),
) -> PermissionDecision:
    """Decide whether `user` may run `tool` in `channel` (None for a DM); fail closed."""
    if _bad_request(user, tool):
        return PermissionDecision(allowed=False, reason=Reason.NO_MATCHING_RULE, rule="invalid")
    for view in _scopes(rules, user=user, tool=tool, channel=channel, grants=grants):
        if _applies(view):
            return _decide_in(view, tool)
    return PermissionDecision(allowed=False, reason=Reason.NO_MATCHING_RULE, rule="none")


_RESTRICTS: frozenset[str] = frozenset({"user", "group"})


def decide_person(
    rules: Rules,
    *,
    user: str,
    members: Iterable[str],
    tool: str,
    channel: str | None,
    grants: Sequence[GrantEntry] = (),
) -> PermissionDecision:
    """Decide for `user` as the person of `members` (see module docstring); fail closed."""
    mine = decide(rules, user=user, tool=tool, channel=channel, grants=grants)
    others = sorted(set(members) - {user})
    decisions = [(user, mine)] + [
        (k, decide(rules, user=k, tool=tool, channel=channel, grants=grants)) for k in others
    ]
    for key, d in decisions:
        if not d.allowed and (d.scope in _RESTRICTS or d.rule == "invalid"):
            return d if key == user else replace(d, rule=f"{d.rule} (linked {key})")
    for key, d in decisions:
        if d.allowed:
            return d if key == user else replace(d, rule=f"{d.rule} (linked {key})")
    return mine


def allowed_tools(
    rules: Rules,
    *,
    user: str,
    channel: str | None,
    grants: Sequence[GrantEntry] = (),
    all_tools: Iterable[str],
) -> list[str]:
    """The tools of `all_tools` this user may run here, sorted and without duplicates."""
    return sorted(
        t
        for t in set(all_tools)
        if decide(rules, user=user, tool=t, channel=channel, grants=grants).allowed
    )


def _describe(tools: frozenset[str] | None) -> str:
    if tools is None:
        return "no entry"
    return "[" + ", ".join(sorted(tools)) + "]"


def explain(
    rules: Rules,
    *,
    user: str,
    tool: str,
    channel: str | None,
    grants: Sequence[GrantEntry] = (),
) -> list[str]:
    """Lines describing every scope considered and the decision, for `policy explain`."""
    final = decide(rules, user=user, tool=tool, channel=channel, grants=grants)
    lines = [f"user={user} tool={tool} channel={channel or '(direct message)'}"]
    if _bad_request(user, tool):
        lines.append("invalid request: empty identity or tool name")
    else:
        decided = False
        for view in _scopes(rules, user=user, tool=tool, channel=channel, grants=grants):
            runtime = ", ".join(f"{g.label} {g.effect} {g.tool}" for g in view.grants)
            line = f"{view.scope:<7} {view.name}: {_describe(view.configured)}"
            if runtime:
                line += f"; runtime: {runtime}"
            if decided:
                line += " (not consulted)"
            elif _applies(view):
                verdict = _decide_in(view, tool)
                line += f" -> {'allow' if verdict.allowed else 'deny'} ({verdict.reason})"
                decided = True
            else:
                line += " (does not apply)"
            lines.append(line)
    verdict_word = "ALLOW" if final.allowed else "DENY"
    lines.append(f"decision: {verdict_word} by {final.rule} ({final.reason})")
    return lines
