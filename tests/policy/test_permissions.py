"""Tests for the fail-closed allowlist in policy/permissions.py."""

from __future__ import annotations

import itertools
import random

import pytest

from policy.permissions import (
    GrantEntry,
    GroupRule,
    PermissionDecision,
    Rules,
    allowed_tools,
    decide,
    decide_person,
    explain,
)
from policy.reasons import Reason

ALICE = "slack:T1:alice"
BOB = "slack:T1:bob"
MALLORY = "slack:T2:alice"  # same user id, another workspace: a different identity
OPS_CHAN = "slack:T1:C_OPS"
RANDOM_CHAN = "slack:T1:C_RANDOM"

RULES = Rules(
    global_tools=frozenset({"uptime"}),
    groups={
        "ops": GroupRule(members=frozenset({ALICE}), tools=frozenset({"logs", "restart"})),
        "dev": GroupRule(members=frozenset({ALICE, BOB}), tools=frozenset({"tests"})),
    },
    channels={OPS_CHAN: frozenset({"logs", "disk_usage"})},
    users={BOB: frozenset({"disk_usage"})},
)


def grant(
    scope: str, subject: str, tool: str, effect: str = "allow", gid: int | None = 7
) -> GrantEntry:
    """Build a runtime grant."""
    return GrantEntry(scope=scope, subject=subject, tool=tool, effect=effect, id=gid)  # type: ignore[arg-type]


CASES = [
    # (rules, user, tool, channel, grants, allowed, reason, rule)
    (Rules(), ALICE, "uptime", None, (), False, Reason.NO_MATCHING_RULE, "none"),
    (RULES, ALICE, "uptime", None, (), False, Reason.DENIED_BY_GROUP, "groups.dev,ops"),
    (RULES, ALICE, "logs", None, (), True, Reason.ALLOWED_BY_GROUP, "groups.dev,ops"),
    (RULES, ALICE, "tests", None, (), True, Reason.ALLOWED_BY_GROUP, "groups.dev,ops"),
    (
        RULES,
        ALICE,
        "disk_usage",
        OPS_CHAN,
        (),
        True,
        Reason.ALLOWED_BY_CHANNEL,
        f"channels.{OPS_CHAN}",
    ),
    (
        RULES,
        ALICE,
        "restart",
        OPS_CHAN,
        (),
        False,
        Reason.DENIED_BY_CHANNEL,
        f"channels.{OPS_CHAN}",
    ),
    (RULES, ALICE, "restart", RANDOM_CHAN, (), True, Reason.ALLOWED_BY_GROUP, "groups.dev,ops"),
    (RULES, BOB, "disk_usage", None, (), True, Reason.ALLOWED_BY_USER, f"users.{BOB}"),
    (RULES, BOB, "logs", OPS_CHAN, (), False, Reason.DENIED_BY_USER, f"users.{BOB}"),
    (RULES, BOB, "tests", None, (), False, Reason.DENIED_BY_USER, f"users.{BOB}"),
    (RULES, MALLORY, "uptime", None, (), True, Reason.ALLOWED_BY_GLOBAL, "global"),
    (RULES, MALLORY, "logs", None, (), False, Reason.NO_MATCHING_RULE, "global"),
    (RULES, MALLORY, "logs", OPS_CHAN, (), True, Reason.ALLOWED_BY_CHANNEL, f"channels.{OPS_CHAN}"),
    (
        Rules(users={ALICE: frozenset()}, global_tools=frozenset({"*"})),
        ALICE,
        "uptime",
        None,
        (),
        False,
        Reason.DENIED_BY_USER,
        f"users.{ALICE}",
    ),
    (
        Rules(users={ALICE: frozenset({"*"})}),
        ALICE,
        "anything",
        None,
        (),
        True,
        Reason.ALLOWED_BY_USER,
        f"users.{ALICE}",
    ),
    (
        Rules(global_tools=frozenset({"*"})),
        MALLORY,
        "rm_everything",
        None,
        (),
        True,
        Reason.ALLOWED_BY_GLOBAL,
        "global",
    ),
    # a tool literally named "*" or an empty identity never matches anything
    (
        Rules(global_tools=frozenset({"*"})),
        ALICE,
        "*",
        None,
        (),
        False,
        Reason.NO_MATCHING_RULE,
        "invalid",
    ),
    (
        Rules(global_tools=frozenset({"*"})),
        "",
        "uptime",
        None,
        (),
        False,
        Reason.NO_MATCHING_RULE,
        "invalid",
    ),
    (
        Rules(global_tools=frozenset({"*"})),
        ALICE,
        "",
        None,
        (),
        False,
        Reason.NO_MATCHING_RULE,
        "invalid",
    ),
    # runtime grants
    (
        RULES,
        MALLORY,
        "deploy",
        None,
        (grant("user", MALLORY, "deploy"),),
        True,
        Reason.ALLOWED_BY_GRANT,
        "grant#7",
    ),
    (
        RULES,
        MALLORY,
        "uptime",
        None,
        (grant("user", MALLORY, "deploy"),),
        True,
        Reason.ALLOWED_BY_GLOBAL,
        "global",
    ),
    (
        RULES,
        MALLORY,
        "uptime",
        None,
        (grant("user", MALLORY, "uptime", "deny"),),
        False,
        Reason.DENIED_BY_USER,
        "grant#7",
    ),
    (
        RULES,
        MALLORY,
        "uptime",
        None,
        (grant("user", MALLORY, "*", "deny", None),),
        False,
        Reason.DENIED_BY_USER,
        f"grant.user.{MALLORY}",
    ),
    (
        RULES,
        MALLORY,
        "uptime",
        None,
        (grant("user", ALICE, "uptime", "deny"),),
        True,
        Reason.ALLOWED_BY_GLOBAL,
        "global",
    ),
    (
        RULES,
        BOB,
        "tests",
        None,
        (grant("user", BOB, "tests"),),
        True,
        Reason.ALLOWED_BY_GRANT,
        "grant#7",
    ),
    (
        RULES,
        BOB,
        "disk_usage",
        None,
        (grant("user", BOB, "disk_usage", "deny"), grant("user", BOB, "disk_usage")),
        False,
        Reason.DENIED_BY_USER,
        "grant#7",
    ),
    (
        RULES,
        ALICE,
        "logs",
        OPS_CHAN,
        (grant("channel", OPS_CHAN, "logs", "deny"),),
        False,
        Reason.DENIED_BY_CHANNEL,
        "grant#7",
    ),
    (
        RULES,
        ALICE,
        "logs",
        None,
        (grant("group", "dev", "logs", "deny"),),
        False,
        Reason.DENIED_BY_GROUP,
        "grant#7",
    ),
    (
        RULES,
        BOB,
        "tests",
        None,
        (grant("group", "dev", "tests", "deny"),),
        False,
        Reason.DENIED_BY_USER,
        f"users.{BOB}",
    ),
    (
        RULES,
        ALICE,
        "deploy",
        None,
        (grant("group", "dev", "deploy"),),
        True,
        Reason.ALLOWED_BY_GRANT,
        "grant#7",
    ),
    (
        RULES,
        MALLORY,
        "deploy",
        None,
        (grant("group", "dev", "deploy"),),
        False,
        Reason.NO_MATCHING_RULE,
        "global",
    ),
    (
        RULES,
        MALLORY,
        "deploy",
        None,
        (grant("global", "", "deploy"),),
        True,
        Reason.ALLOWED_BY_GRANT,
        "grant#7",
    ),
    (
        RULES,
        MALLORY,
        "uptime",
        None,
        (grant("global", "", "uptime", "deny"),),
        False,
        Reason.NO_MATCHING_RULE,
        "grant#7",
    ),
    (
        Rules(),
        ALICE,
        "x",
        None,
        (grant("global", "*", "*", "deny"),),
        False,
        Reason.NO_MATCHING_RULE,
        "grant#7",
    ),
]
IDS = [
    "nothing-configured",
    "group-lacks-global-tool",
    "group-tool",
    "union-of-groups",
    "channel-allows",
    "channel-overrides-group",
    "other-channel-falls-to-group",
    "user-allows",
    "user-overrides-channel",
    "user-overrides-group",
    "foreign-tenant-global",
    "foreign-tenant-not-in-global",
    "foreign-tenant-channel",
    "empty-user-list-denies",
    "user-wildcard",
    "global-wildcard",
    "tool-named-star",
    "empty-user",
    "empty-tool",
    "grant-allows-new-tool",
    "grant-keeps-wider-tools",
    "revoke-beats-global",
    "revoke-star",
    "revoke-of-other-user-ignored",
    "grant-extends-user-entry",
    "deny-beats-allow-same-scope",
    "channel-revoke",
    "group-revoke-any-group",
    "group-revoke-below-user",
    "group-grant-member",
    "group-grant-non-member",
    "global-grant",
    "global-revoke",
    "global-revoke-star-applies",
]


@pytest.mark.parametrize(
    ("rules", "user", "tool", "channel", "grants", "allowed", "reason", "rule"), CASES, ids=IDS
)
def test_decide(
    rules: Rules,
    user: str,
    tool: str,
    channel: str | None,
    grants: tuple[GrantEntry, ...],
    allowed: bool,
    reason: Reason,
    rule: str,
) -> None:
    """Each row is one scenario of the most-specific-wins walk."""
    got = decide(rules, user=user, tool=tool, channel=channel, grants=grants)
    assert got == PermissionDecision(allowed=allowed, reason=reason, rule=rule)


def test_allowed_reason_matches_allowed_flag() -> None:
    """Over every combination the allow flag agrees with the reason family."""
    users = [ALICE, BOB, MALLORY, ""]
    tools = ["uptime", "logs", "restart", "tests", "disk_usage", "deploy", "*"]
    channels = [None, OPS_CHAN, RANDOM_CHAN]
    grant_sets: list[tuple[GrantEntry, ...]] = [
        (),
        (grant("user", ALICE, "*", "deny"),),
        (grant("channel", OPS_CHAN, "deploy"),),
    ]
    for user, tool, channel, grants in itertools.product(users, tools, channels, grant_sets):
        got = decide(RULES, user=user, tool=tool, channel=channel, grants=grants)
        assert got.allowed == got.reason.startswith("allowed_"), (user, tool, channel, grants)
        if tool == "*" or not user:
            assert not got.allowed


def test_user_star_deny_blocks_everything() -> None:
    """A runtime deny of "*" for a user blocks every tool, whatever wider scopes say."""
    grants = (grant("user", ALICE, "*", "deny"),)
    for tool in ["uptime", "logs", "restart", "tests", "disk_usage", "whatever"]:
        for channel in [None, OPS_CHAN]:
            assert not decide(RULES, user=ALICE, tool=tool, channel=channel, grants=grants).allowed


@pytest.mark.parametrize(
    ("user", "channel", "grants", "expected"),
    [
        (ALICE, None, (), ["logs", "restart", "tests"]),
        (ALICE, OPS_CHAN, (), ["disk_usage", "logs"]),
        (BOB, OPS_CHAN, (), ["disk_usage"]),
        (MALLORY, None, (), ["uptime"]),
        (MALLORY, None, (grant("user", MALLORY, "deploy"),), ["deploy", "uptime"]),
        (ALICE, None, (grant("user", ALICE, "*", "deny"),), []),
    ],
    ids=["alice-dm", "alice-ops", "bob-ops", "foreign", "with-grant", "banned"],
)
def test_allowed_tools(
    user: str, channel: str | None, grants: tuple[GrantEntry, ...], expected: list[str]
) -> None:
    """allowed_tools lists exactly the tools decide() would allow, sorted, once each."""
    all_tools = ["uptime", "logs", "restart", "tests", "disk_usage", "deploy", "logs"]
    got = allowed_tools(RULES, user=user, channel=channel, grants=grants, all_tools=all_tools)
    assert got == expected


def test_explain_names_every_scope_and_the_decision() -> None:
    """explain() shows each scope, which one decided, and that less specific ones were skipped."""
    lines = explain(RULES, user=BOB, tool="logs", channel=OPS_CHAN)
    text = "\n".join(lines)
    assert f"users.{BOB}: [disk_usage] -> deny" in text
    assert f"channels.{OPS_CHAN}: [disk_usage, logs] (not consulted)" in text
    assert "global: [uptime] (not consulted)" in text
    assert lines[-1] == f"decision: DENY by users.{BOB} (denied_by_user)"


def test_explain_marks_scopes_that_do_not_apply() -> None:
    """Scopes without an entry for the subject are listed as not applying."""
    lines = explain(RULES, user=MALLORY, tool="uptime", channel=RANDOM_CHAN)
    text = "\n".join(lines)
    assert f"users.{MALLORY}: no entry (does not apply)" in text
    assert f"channels.{RANDOM_CHAN}: no entry (does not apply)" in text
    assert "global: [uptime] -> allow (allowed_by_global)" in text
    assert lines[-1].startswith("decision: ALLOW by global")


def _random_world(rng: random.Random) -> tuple[Rules, list[GrantEntry]]:
    """A small random config and a pool of random runtime grants."""
    users, chans, tools = [ALICE, BOB, MALLORY], [OPS_CHAN, RANDOM_CHAN], ["a", "b", "c", "*"]

    def some(pool: list[str]) -> frozenset[str]:
        return frozenset(rng.sample(pool, rng.randint(0, len(pool))))

    rules = Rules(
        global_tools=some(tools),
        groups={g: GroupRule(members=some(users), tools=some(tools)) for g in ["g1", "g2"]},
        channels={c: some(tools) for c in rng.sample(chans, rng.randint(0, 2))},
        users={u: some(tools) for u in rng.sample(users, rng.randint(0, 3))},
    )
    pool = []
    for gid in range(6):
        scope = rng.choice(["user", "channel", "group", "global"])
        subject = rng.choice(
            {"user": users, "channel": chans, "group": ["g1", "g2"]}.get(scope, [""])
        )
        effect = rng.choice(["allow", "deny"])
        pool.append(grant(scope, subject, rng.choice(tools), effect, gid))
    return rules, pool


@pytest.mark.parametrize("seed", range(20), ids=lambda s: f"seed{s}")
def test_grants_only_move_decisions_their_way(seed: int) -> None:
    """Adding a runtime allow never denies, adding a runtime deny never allows (random worlds)."""
    rng = random.Random(seed)
    rules, pool = _random_world(rng)
    for _ in range(50):
        base = tuple(rng.sample(pool, rng.randint(0, 3)))
        extra = rng.choice(pool)
        user = rng.choice([ALICE, BOB, MALLORY])
        tool = rng.choice(["a", "b", "c", "d"])
        channel = rng.choice([None, OPS_CHAN, RANDOM_CHAN])
        before = decide(rules, user=user, tool=tool, channel=channel, grants=base)
        after = decide(rules, user=user, tool=tool, channel=channel, grants=(*base, extra))
        if extra.effect == "allow":
            assert after.allowed or not before.allowed, (rules, base, extra)
        else:
            assert before.allowed or not after.allowed, (rules, base, extra)
        assert after.allowed == after.reason.startswith("allowed_")


PHONE = "telegram:telegram:77"  # bob's other identity
PERSON_ROWS = [
    # (rules, members, tool, channel, grants, allowed, reason, rule)
    (RULES, {BOB, PHONE}, "disk_usage", None, (), True, Reason.ALLOWED_BY_USER, f"users.{BOB}"),
    (
        RULES,
        {BOB, PHONE},
        "uptime",
        None,
        (),
        False,
        Reason.DENIED_BY_USER,
        f"users.{BOB}",
    ),
    (
        RULES,
        {BOB, PHONE},
        "disk_usage",
        None,
        (grant("user", PHONE, "disk_usage", "deny", 4),),
        False,
        Reason.DENIED_BY_USER,
        f"grant#4 (linked {PHONE})",
    ),
    (
        Rules(users={PHONE: frozenset({"deploy"})}),
        {BOB, PHONE},
        "deploy",
        None,
        (),
        True,
        Reason.ALLOWED_BY_USER,
        f"users.{PHONE} (linked {PHONE})",
    ),
    (
        Rules(users={BOB: frozenset({"deploy"})}, channels={OPS_CHAN: frozenset()}),
        {BOB, PHONE},
        "deploy",
        OPS_CHAN,
        (),
        True,
        Reason.ALLOWED_BY_USER,
        f"users.{BOB}",
    ),
    (
        Rules(global_tools=frozenset({"deploy"})),
        {BOB, PHONE},
        "deploy",
        None,
        (grant("global", "*", "deploy", "deny", 5),),
        False,
        Reason.NO_MATCHING_RULE,
        "grant#5",
    ),
    (
        Rules(global_tools=frozenset({"x"})),
        {BOB, "not-a-key"},
        "x",
        None,
        (),
        True,
        Reason.ALLOWED_BY_GLOBAL,
        "global",
    ),
]


@pytest.mark.parametrize(
    ("rules", "members", "tool", "channel", "grants", "allowed", "reason", "rule"),
    PERSON_ROWS,
    ids=[
        "own-allow",
        "own-user-entry-restricts",
        "revoke-on-linked-identity-binds-person",
        "grant-on-linked-identity-follows-person",
        "channel-restriction-does-not-single-out",
        "global-revoke-is-not-personal",
        "identity-without-rules-adds-nothing",
    ],
)
def test_decide_person(
    rules: Rules,
    members: set[str],
    tool: str,
    channel: str | None,
    grants: tuple[GrantEntry, ...],
    allowed: bool,
    reason: Reason,
    rule: str,
) -> None:
    """The most restrictive of a person's identities wins; a grant follows the person."""
    got = decide_person(rules, user=BOB, members=members, tool=tool, channel=channel, grants=grants)
    assert got == PermissionDecision(allowed=allowed, reason=reason, rule=rule)


def test_first_allow_among_links_no_longer_wins() -> None:
    """The attack of issue 11: a revoke on one linked identity is not bypassed by another's allow."""
    rules = Rules(global_tools=frozenset({"deploy"}))
    revoked = (grant("user", PHONE, "deploy", "deny"),)
    alone = decide(rules, user=BOB, tool="deploy", channel=None, grants=revoked)
    assert alone.allowed  # the revoke names the other identity
    person = decide_person(
        rules, user=BOB, members={BOB, PHONE}, tool="deploy", channel=None, grants=revoked
    )
    assert not person.allowed
