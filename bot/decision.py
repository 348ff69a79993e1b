"""The decision about a tool request, with the state as it is now: read it, ask policy, say it.

Every path that decides about a tool request comes through here and through the one
pure function `policy.decision.decide`: the allowlist and gate stages for a new
request, the approver's tap and the moment before the run for a parked one, the
sweep after an admin change, and `policy explain` / `/explain`. The state is one
snapshot (roles, grants and revokes, links, lockdown, autonomy, limits, bans) and
then the requester's own standing. A parked request is always decided with the
state read from storage at that moment (no cache); a new request may read through
the process's cache, which every admin command refreshes at once.

    verdict = await decide_now(services, ask_for(services, request))

`bot/explain.py` puts the same decision in words for `policy explain` and `/explain`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.types import ChannelKind
from policy.autonomy import Autonomy
from policy.decision import Ask, AutonomyRules, Reach, Standing, Verdict, decide
from policy.permissions import GrantEntry, Rules
from policy.persons import person_of
from policy.ratelimit import Budget, budget_day_start

if TYPE_CHECKING:
    from bot.approvals import Parked
    from bot.pipeline import Request
    from bot.services import Services
    from storage import Database
    from storage.identities import Identity

__all__ = [
    "Snapshot",
    "ask_for",
    "ask_for_parked",
    "cached_snapshot",
    "decide_now",
    "read_snapshot",
    "secret_args",
    "standing_for",
    "standing_now",
]

# identity key -> (day, cpu s, runs today), as kept in RuntimeState.usage
Usage = MutableMapping[str, tuple[datetime, float, int]]
Lookup = Callable[[str], Awaitable["Identity | None"]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """What admins changed at run time, read from storage at one moment."""

    now: datetime
    roles: tuple[tuple[str, str], ...] = ()
    grants: tuple[GrantEntry, ...] = ()
    settings: Mapping[str, Any] | None = None
    banned: frozenset[str] = frozenset()

    def setting(self, key: str) -> Any:
        """One runtime setting (None when unset)."""
        return (self.settings or {}).get(key)


async def read_snapshot(db: Database | None, now: datetime) -> Snapshot:
    """Roles, grants in force, settings and banned identities, from storage (empty without a database)."""
    if db is None:
        return Snapshot(now=now)
    grants = tuple(
        GrantEntry(scope=g.scope, subject=g.subject, tool=g.tool, effect=g.effect, id=g.id)  # type: ignore[arg-type]
        for g in await db.grants.active(now)
        if g.expires_at is None or g.expires_at > now
    )
    return Snapshot(
        now=now,
        roles=tuple(await db.roles.list()),
        grants=grants,
        settings=await db.settings.all(),
        banned=frozenset(i.key for i in await db.identities.list("banned")),
    )


def _level(text: object, fallback: Autonomy) -> Autonomy:
    try:
        return Autonomy.parse(text)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return fallback  # a malformed stored level: the most restrictive one


def _autonomy(config: Config, stored: object) -> AutonomyRules:
    a = config.autonomy
    o = stored if isinstance(stored, dict) else {}
    strict = Autonomy.APPROVAL
    users = {**a.users, **(o.get("users") or {})}
    channels = {**a.channels, **(o.get("channels") or {})}
    return AutonomyRules(
        default=_level(o.get("default") or a.default, strict),
        users={k: _level(v, strict) for k, v in users.items()},
        channels={k: _level(v, strict) for k, v in channels.items()},
    )


def _limits(config: Config, stored: object, keys: Iterable[str]) -> dict[str, Budget]:
    r = config.rate_limits
    out: dict[str, Budget] = {}
    table = stored if isinstance(stored, dict) else {}
    for key in keys:
        mine = table.get(key)
        if isinstance(mine, dict) and ("cpu" in mine or "runs" in mine):
            out[key] = Budget(
                cpu_seconds_per_day=float(mine.get("cpu", r.cpu_seconds_per_day)),
                runs_per_day=int(mine.get("runs", r.runs_per_day)),
            )
    return out


async def _usage(
    db: Database | None, cache: Usage | None, key: str, now: datetime
) -> tuple[float, int]:
    """Today's CPU seconds and runs of one identity (kept in `cache` as the execute stage does)."""
    day = budget_day_start(now)
    found = cache.get(key) if cache is not None else None
    if found is not None and found[0] == day:
        return found[1], found[2]
    if db is None:
        return 0.0, 0
    cpu = await db.runs.cpu_seconds_since(key, day)
    runs = await db.runs.count_since(key, day)
    if cache is not None:
        cache[key] = (day, cpu, runs)
    return cpu, runs


async def standing_for(
    snapshot: Snapshot,
    *,
    db: Database | None,
    config: Config,
    rules: Rules,
    requester: str,
    usage: Usage | None = None,
    reach: Reach | None = None,
    identity: Lookup | None = None,
) -> Standing:
    """The requester's standing on top of the snapshot: paired or not, and their person's usage.

    `identity` looks an identity up (default: in storage, now).
    """
    links = snapshot.setting("links")
    links = links if isinstance(links, dict) else {}
    person = person_of(requester, links)
    if identity is None and db is not None:
        identity = db.identities.get
    ident = await identity(requester) if identity is not None and requester else None
    paired = (
        frozenset({requester}) if ident is not None and ident.status == "paired" else frozenset()
    )
    lock = snapshot.setting("lockdown")
    r = config.rate_limits
    return Standing(
        links=links,
        paired=paired,
        banned=snapshot.banned,
        admins=frozenset(config.roles.admins)
        | {u for u, role in snapshot.roles if role == "admin"},
        approvers=frozenset(config.roles.approvers)
        | {u for u, role in snapshot.roles if role == "approver"},
        rules=rules,
        grants=snapshot.grants,
        lockdown=isinstance(lock, dict) and bool(lock.get("active")),
        autonomy=_autonomy(config, snapshot.setting("autonomy")),
        allow_self_approval=config.approvals.allow_self_approval,
        budget=Budget(cpu_seconds_per_day=r.cpu_seconds_per_day, runs_per_day=r.runs_per_day),
        limits=_limits(config, snapshot.setting("limits"), person.members),
        usage={k: await _usage(db, usage, k, snapshot.now) for k in sorted(person.members)},
        reach=reach,
    )


def _reach(s: Services) -> Reach:
    p = s.config.platforms
    running = s.outbox.platforms()
    chats = {
        name
        for name, chat in (
            ("slack", p.slack.approvals_channel),
            ("telegram", p.telegram.approvals_chat),
        )
        if chat
    }
    return Reach(platforms=running, chats=frozenset(chats) & running)


async def cached_snapshot(s: Services) -> Snapshot:
    """The same state through the process's cache (refreshed by every admin command, else within seconds)."""
    settings, banned = await s.runtime_settings()
    admins, approvers = await s.admins(), await s.approvers()
    roles = tuple((u, "admin") for u in admins) + tuple((u, "approver") for u in approvers)
    return Snapshot(
        now=s.clock(),
        roles=roles,
        grants=tuple(await s.grants()),
        settings=settings,
        banned=banned,
    )


async def standing_now(
    s: Services,
    requester: str,
    *,
    reach: bool = True,
    snapshot: Snapshot | None = None,
    fresh: bool = True,
) -> Standing:
    """The requester's standing now: read from storage, or with `fresh=False` through the cache.

    Parked requests are always decided fresh; a new request may use the cache, which
    every admin command in this process refreshes at once (`Services.invalidate`).
    """
    if fresh:
        snap = snapshot or await read_snapshot(s.db, s.clock())
        lookup: Lookup = s.db.identities.get
    else:
        snap = snapshot or await cached_snapshot(s)
        lookup = s.identity
    return await standing_for(
        snap,
        db=s.db,
        config=s.config,
        rules=s.rules,
        requester=requester,
        usage=s.state.usage,
        reach=_reach(s) if reach else None,
        identity=lookup,
    )


async def decide_now(
    s: Services,
    ask: Ask,
    *,
    reach: bool = True,
    snapshot: Snapshot | None = None,
    fresh: bool = True,
) -> Verdict:
    """Decide `ask` against the state now (pass `snapshot` to share one read; see `standing_now`)."""
    standing = await standing_now(s, ask.requester, reach=reach, snapshot=snapshot, fresh=fresh)
    return decide(standing, ask)


def secret_args(s: Services, args: Mapping[str, str | int]) -> frozenset[str]:
    """The names of the arguments whose value holds a configured secret value (in any known encoding)."""
    finder = s.known_secrets
    return frozenset(
        name for name, value in args.items() if isinstance(value, str) and finder.spans(value)
    )


def ask_for(s: Services, request: Request) -> Ask:
    """The request of a message, as the decision sees it."""
    channel = request.inbound.channel
    tool = s.tool(request.tool)
    return Ask(
        requester=request.actor_key,
        tool=request.tool,
        spec=tool.spec() if tool is not None else None,
        channel=channel.key if channel.kind is ChannelKind.GROUP else None,
        place=channel.key,
        args=request.args,
        argv=request.argv,
        escalate=request.escalate,
        secret_args=secret_args(s, request.args),
    )


def ask_for_parked(s: Services, parked: Parked) -> Ask:
    """A parked request, as the decision sees it (its arguments were checked for secrets when parked)."""
    tool = s.tool(parked.tool)
    return Ask(
        requester=parked.requester,
        tool=parked.tool,
        spec=tool.spec() if tool is not None else None,
        channel=parked.group_channel,
        place=parked.channel,
        args=parked.args,
        argv=parked.argv,
        escalate=parked.escalate,
        secret_args=secret_args(s, parked.args),
    )
