"""What the stages and commands share: config, storage, sandbox, detectors, keys, runtime state.

Built once by the composition root (`bot/app.py`) and handed to each stage's
constructor. Runtime changes made by admins (roles, grants, autonomy, lockdown)
live in storage. This process keeps them (and the identities it has looked up) in
memory, re-reads them after every admin command (`invalidate()`) so a change takes
effect at once, and at least every CACHE_SECONDS, so a change made by another
process (`frontdoor forget`) takes effect within seconds. The config file supplies
the defaults.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Config, ToolConfig
from bot.types import Address, Outcome
from policy.approvals import token_hash
from policy.autonomy import Autonomy, Risk, resolve_autonomy
from policy.guardrails import Breaker, Usual
from policy.pairing import hash_code, normalize_code
from policy.permissions import (
    GrantEntry,
    GroupRule,
    Rules,
    decide_person,
)
from policy.persons import Person, person_of
from policy.ratelimit import Bucket
from policy.tools import ToolSpec

if TYPE_CHECKING:
    from bot.outbox import Outbox
    from policy.injection import Scanner
    from policy.redaction import Redactor
    from sandbox import Sandbox
    from storage import Database
    from storage.grants import Grant
    from storage.identities import Identity

# Changes made in this process take effect at once (invalidate()); changes made by
# another process on the same database (`frontdoor forget`, `keys rotate`) within this long.
CACHE_SECONDS = 5.0

__all__ = ["RuntimeState", "Services", "address_of", "rules_from_config", "tool_spec"]


@dataclass(slots=True)
class RuntimeState:
    """In-memory state of this process: rate buckets, live run counts, one-time notices, today's usage."""

    buckets: dict[str, Bucket] = field(default_factory=dict)
    active: Counter[str] = field(default_factory=Counter)
    banned_told: set[str] = field(default_factory=set)
    usage: dict[str, tuple[datetime, float, int]] = field(default_factory=dict)  # day, cpu s, runs
    tool_active: Counter[str] = field(default_factory=Counter)
    breakers: dict[str, Breaker] = field(default_factory=dict)
    injection_hits: dict[str, tuple[datetime, ...]] = field(default_factory=dict)
    denials: dict[str, tuple[datetime, ...]] = field(default_factory=dict)
    usual: dict[str, Usual] = field(default_factory=dict)
    credential_failures: Counter[tuple[str, int]] = field(default_factory=Counter)
    # Held while admin changes are made (with the sweep of waiting requests after them) and
    # while a parked request is re-decided and claimed: in this process, a run's last check
    # and an admin change never interleave.
    acting: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def active_total(self) -> int:
        """Runs in flight over all users."""
        return sum(self.active.values())


def rules_from_config(config: Config) -> Rules:
    """The static allowlists of the config file as policy rules."""
    p = config.permissions
    return Rules(
        global_tools=frozenset(p.global_.tools),
        groups={
            g: GroupRule(members=frozenset(v.members), tools=frozenset(v.tools))
            for g, v in p.groups.items()
        },
        channels={c: frozenset(v.tools) for c, v in p.channels.items()},
        users={u: frozenset(v.tools) for u, v in p.users.items()},
    )


def tool_spec(tool: ToolConfig) -> ToolSpec:
    """The policy's view of a configured tool (for argument validation and rendering)."""
    return tool.spec()


def address_of(user_key: str) -> Address:
    """A direct message to the user with this `platform:tenant:user` key."""
    platform, tenant, user_id = user_key.split(":", 2)
    return Address(platform=platform, tenant=tenant, user_id=user_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class _View:
    roles: tuple[tuple[str, str], ...]
    grants: tuple[Grant, ...]
    autonomy: Any
    lockdown: Any
    limits: Any
    benched: Any
    links: Any
    banned: frozenset[str]


@dataclass(slots=True, kw_only=True)
class Services:
    """Dependencies of the stages, wired in `bot/app.py`."""

    config: Config
    env: Mapping[str, str]
    db: Database
    sandbox: Sandbox
    scanner: Scanner
    redactor: Redactor
    known_secrets: Redactor  # finds only configured secret values (cards show everything else)
    outbox: Outbox
    clock: Callable[[], datetime]
    token_key: bytes
    pepper: bytes
    old_token_keys: tuple[bytes, ...] = ()
    old_peppers: tuple[bytes, ...] = ()
    key_path: Path | None = (
        None  # where the data key lives; None when it comes from the environment
    )
    state: RuntimeState = field(default_factory=RuntimeState)
    rules: Rules = field(init=False)
    _cached: _View | None = field(default=None, init=False)
    _cached_at: float = field(default=0.0, init=False)
    _identities: dict[str, Identity | None] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.rules = rules_from_config(self.config)

    # --- tools -----------------------------------------------------------------------------

    def tool(self, name: str) -> ToolConfig | None:
        """The configured tool called `name`."""
        return self.config.tool(name)

    def risk(self, tool: ToolConfig) -> Risk:
        """The tool's risk level."""
        return Risk.parse(tool.risk)

    # --- roles -----------------------------------------------------------------------------

    async def _view(self) -> _View:
        """What admins changed at run time, read once and kept until the next change (or a few seconds)."""
        if self._cached is not None and time.monotonic() - self._cached_at > CACHE_SECONDS:
            self.invalidate()
        if self._cached is None:
            self._cached_at = time.monotonic()
            now = self.clock()
            self._cached = _View(
                roles=tuple(await self.db.roles.list()),
                grants=tuple(await self.db.grants.active(now)),
                autonomy=await self.db.settings.get("autonomy"),
                lockdown=await self.db.settings.get("lockdown"),
                limits=await self.db.settings.get("limits"),
                benched=await self.db.settings.get("benched"),
                links=await self.db.settings.get("links"),
                banned=frozenset(i.key for i in await self.db.identities.list("banned")),
            )
        return self._cached

    def invalidate(self) -> None:
        """Forget the cached runtime view: call after any change to identities, roles, grants or settings."""
        self._cached = None
        self._identities.clear()

    async def identity(self, key: str) -> Identity | None:
        """The stored identity (paired or banned) of `key`, cached like the runtime view."""
        await self._view()  # expires the cache when it is too old
        if key in self._identities:
            return self._identities[key]
        found = await self.db.identities.get(key)
        if len(self._identities) > 10_000:
            self._identities.clear()
        self._identities[key] = found
        return found

    async def admins(self) -> frozenset[str]:
        """Admins: from config, plus those added at run time."""
        extra = {u for u, r in (await self._view()).roles if r == "admin"}
        return frozenset(self.config.roles.admins) | extra

    async def approvers(self) -> frozenset[str]:
        """Approvers (admins approve too, but are listed separately by the policy)."""
        extra = {u for u, r in (await self._view()).roles if r == "approver"}
        return frozenset(self.config.roles.approvers) | extra

    # --- grants and autonomy ---------------------------------------------------------------

    async def grants(self) -> list[GrantEntry]:
        """Runtime grants and revokes that are in force now."""
        now = self.clock()
        return [
            GrantEntry(scope=g.scope, subject=g.subject, tool=g.tool, effect=g.effect, id=g.id)  # type: ignore[arg-type]
            for g in (await self._view()).grants
            if g.expires_at is None or g.expires_at > now
        ]

    async def autonomy_overrides(self) -> dict[str, Any]:
        """Autonomy levels set at run time: {"default": str?, "users": {...}, "channels": {...}}."""
        value = (await self._view()).autonomy
        return value if isinstance(value, dict) else {}

    async def autonomy_for(self, user: str, channel: str) -> Autonomy:
        """The autonomy level that applies to this user in this channel."""
        a = self.config.autonomy
        o = await self.autonomy_overrides()
        default = Autonomy.parse(o.get("default") or a.default)
        users = {**a.users, **o.get("users", {})}
        channels = {**a.channels, **o.get("channels", {})}
        u, c = users.get(user), channels.get(channel)
        return resolve_autonomy(
            default=default,
            user_level=Autonomy.parse(u) if u else None,
            channel_level=Autonomy.parse(c) if c else None,
        )

    async def user_limits(self, user: str) -> dict[str, float]:
        """Per-user overrides set with /limits: rate, burst, concurrency, cpu, runs."""
        value = (await self._view()).limits
        mine = value.get(user) if isinstance(value, dict) else None
        return dict(mine) if isinstance(mine, dict) else {}

    async def runtime_settings(self) -> tuple[dict[str, Any], frozenset[str]]:
        """The cached state a decision reads: links, lockdown, autonomy and limits; and who is banned."""
        view = await self._view()
        settings = {
            "links": view.links,
            "lockdown": view.lockdown,
            "autonomy": view.autonomy,
            "limits": view.limits,
        }
        return settings, view.banned

    async def person(self, user: str) -> Person:
        """The person `user` belongs to: every identity linked with theirs by /link."""
        return person_of(user, (await self._view()).links)

    async def linked(self, user: str) -> list[str]:
        """The user's own key first, then the identities they linked with /link."""
        return [user, *(await self.person(user)).others]

    async def person_banned(self, user: str) -> bool:
        """Whether any identity of `user`'s person is banned (a ban on one binds them all)."""
        return bool((await self.person(user)).members & (await self._view()).banned)

    async def tools_for(self, *, user: str, channel: str | None) -> list[str]:
        """The tools `user`'s person may use here, for listings (requests are decided in `bot/decision.py`)."""
        person = await self.person(user)
        grants = await self.grants()
        return sorted(
            t.name
            for t in self.config.tools
            if decide_person(
                self.rules,
                user=user,
                members=person.members,
                tool=t.name,
                channel=channel,
                grants=grants,
            ).allowed
        )

    async def benched(self) -> dict[str, list[int]]:
        """Credential profiles benched after repeated auth failures, by tool."""
        value = (await self._view()).benched
        return value if isinstance(value, dict) else {}

    def token_hashes(self, token: str) -> list[str]:
        """A button token hashed under the current key and every older one (tokens survive a key rotation)."""
        return [token_hash(token, k) for k in (self.token_key, *self.old_token_keys)]

    def code_hashes(self, code: str) -> list[str]:
        """A pairing or link code hashed under the current pepper and every older one."""
        return [hash_code(normalize_code(code), p) for p in (self.pepper, *self.old_peppers)]

    def use_keys(self, token_keys: list[bytes], peppers: list[bytes]) -> None:
        """Switch to new derived keys (newest first), e.g. after `/keys rotate`."""
        self.token_key, *rest = token_keys
        self.old_token_keys = tuple(rest)
        self.pepper, *older = peppers
        self.old_peppers = tuple(older)

    async def to_admins(self, text: str) -> tuple[Outcome, ...]:
        """The same notice for every admin, as direct messages."""
        return tuple(Outcome(to=address_of(a), text=text) for a in sorted(await self.admins()))

    async def lockdown(self) -> dict[str, Any] | None:
        """The lockdown record when the bot is locked down, else None."""
        value = (await self._view()).lockdown
        return value if isinstance(value, dict) and value.get("active") else None
