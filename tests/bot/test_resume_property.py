"""Property: for random sequences of admin changes, links, requests and taps, a run happens only
if every check passes at the moment of the run, and waiting requests follow the state at once.

A seeded generator drives the whole bot on a fake chat. Beside it runs a small model written
here, independently of the bot's decision code: who is paired, banned, revoked, linked, locked
down, and how many runs each person has left. The sandbox is a recorder that, at the moment a
run starts, asks the model whether every check passes. After every step the model also says
which requests must still be waiting, and whether a tap had to run.
"""

from __future__ import annotations

import asyncio
import copy
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from sandbox import RunResult, RunSpec, SandboxConfig, SelfTestReport
from tests.bot.conftest import EXAMPLE, Clock, make_config, pair
from tests.fakes.chat import FakeChat

USERS = ("u1", "u2", "u3")
WEIGHTS = {  # how often each step is taken: changes that shut people out, and ones that let them back
    "request": 5,
    "press": 5,
    "ban": 1,
    "unban": 2,
    "revoke": 1,
    "grant": 2,
    "lockdown": 0.5,
    "unlock": 2,
    "link": 1.5,
    "unlink": 1,
    "unpair": 0.3,
    "limit": 1,
    "elsewhere": 1,
}
KEY = "console:local:{}"


@dataclass
class Model:
    """What every check should say, kept by the test alone."""

    paired: set[str] = field(default_factory=lambda: set(USERS))
    banned: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    groups: list[set[str]] = field(default_factory=list)  # linked identities
    lockdown: bool = False
    limits: dict[str, int] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)  # public id -> requester
    # changed by another process: a new request may still pass through this process's cache
    # (until the next admin command here, or a few seconds); a parked one is always checked anew
    stale: set[str] = field(default_factory=set)

    def person(self, u: str) -> set[str]:
        return next((g for g in self.groups if u in g), {u})

    def can_talk(self, u: str) -> bool:
        """Whether u gets past the identity stage at all."""
        return u in self.paired and not (self.person(u) & self.banned) and not self.lockdown

    def allowed(self, u: str) -> bool:
        """Every check of a run of restart_service by u."""
        person = self.person(u)
        budget = min(self.limits.get(k, 1000) for k in person)
        used = sum(self.runs.get(k, 0) for k in person)
        return self.can_talk(u) and not (person & self.revoked) and used < budget

    def sweep(self) -> None:
        """After an admin change: a waiting request that may not run any more is withdrawn."""
        self.waiting = {p: u for p, u in self.waiting.items() if self.allowed(u)}

    def link(self, a: str, b: str) -> None:
        merged = self.person(a) | self.person(b)
        self.groups = [g for g in self.groups if not g & merged] + [merged]

    def unlink(self, a: str) -> None:
        group = self.person(a)
        self.groups = [g for g in self.groups if g is not group]
        if len(group - {a}) > 1:
            self.groups.append(group - {a})


class RecordingSandbox:
    """Answers at once, and at the moment of each run checks the model."""

    config = SandboxConfig()
    available = True
    weak = False

    def __init__(self, model: Model) -> None:
        self.model = model
        self.violations: list[str] = []
        self.started: list[str] = []

    async def selftest(self) -> SelfTestReport:
        return SelfTestReport(ok=True, checks=(), reason=None)

    async def run(self, spec: RunSpec) -> RunResult:
        user = spec.requested_by.split(":", 2)[2]
        if spec.tool == "restart_service" and not self.model.allowed(user):
            self.violations.append(f"{user} ran while a check failed: {self.model}")
        self.started.append(user)
        self.model.runs[user] = self.model.runs.get(user, 0) + 1
        return RunResult(
            exit_code=0,
            timed_out=False,
            killed_reason=None,
            stdout="done\n",
            stderr="",
            truncated=False,
            duration_ms=0.0,
            cpu_seconds=0.0,
            secret_values=(),
        )

    def live_runs(self) -> list[Any]:
        return []

    async def kill(self, run_id: str) -> bool:
        return False


async def _waiting(app: App) -> set[str]:
    assert app.db is not None
    return {a.public_id for a in await app.db.approvals.pending() if a.kind == "run"}


async def _step(
    app: App, chat: FakeChat, model: Model, rng: random.Random, tokens: dict[str, tuple[str, str]]
) -> None:
    """One random action, with what the model expects of it."""
    u = rng.choice(USERS)
    action = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    if action == "request":
        before = len(chat.cards("carol"))
        await app.handle(chat.message(u, "/run restart_service service=api"))
        cards = chat.cards("carol")
        parked = len(cards) > before
        if not model.person(u) & model.stale:
            assert parked == model.allowed(u), (action, u, model)
        elif parked:
            assert model.allowed(u) or model.person(u) & model.stale, (action, u, model)
        if parked:
            card = cards[-1].card
            assert card is not None
            tokens[card.approve_token] = (card.approval_id, u)
            model.waiting[card.approval_id] = u
        return
    if action == "press":
        if not tokens:
            return
        live = sorted(t for t, (p, _) in tokens.items() if p in model.waiting)
        token = rng.choice(live if live and rng.random() < 0.7 else sorted(tokens))
        public_id, requester = tokens[token]
        presser = rng.choice(["carol", "admin"])
        ran_before = len(app_sandbox(app).started)
        talks = presser == "admin" or not model.lockdown
        must_run = public_id in model.waiting and model.allowed(requester) and talks
        stop = await app.handle(chat.press(presser, token))
        ran = len(app_sandbox(app).started) > ran_before
        assert ran == must_run, (action, presser, requester, stop.reason, model)
        if talks:
            model.waiting.pop(public_id, None)  # ran, or withdrawn by the check at the tap
        return
    k = KEY.format(u)
    admin_says = {
        "ban": f"/ban {k}",
        "unban": f"/unban {k}",
        "revoke": f"/revoke {k} restart_service",
        "grant": f"/grant {k} restart_service",
        "lockdown": "/lockdown",
        "unlock": "/unlock",
        "unpair": f"/pair revoke {k}",
        "limit": f"/limits {k} runs={rng.randint(1, 3)}",
    }
    if action in admin_says:
        text = admin_says[action]
        await app.handle(chat.message("admin", text))
        model.stale.clear()  # every admin command refreshes the cache
        if action == "ban":
            model.banned.add(u)
        elif action == "unban" and u in model.banned:
            model.banned.discard(u)
            model.paired.add(u)
        elif action == "revoke":
            model.revoked.add(u)
        elif action == "grant":
            model.revoked.discard(u)
        elif action == "lockdown":
            model.lockdown = True
            model.waiting.clear()  # lockdown withdraws every waiting request
        elif action == "unlock":
            model.lockdown = False
        elif action == "unpair" and u in model.paired and u not in model.banned:
            model.paired.discard(u)
        elif action == "limit":
            model.limits[u] = int(text.rsplit("=", 1)[1])
        model.sweep()
        return
    if action == "elsewhere":
        # another process on the same database bans or revokes: no sweep here, only the checks
        # at the tap and before the run can see it
        assert app.db is not None
        if rng.random() < 0.5:
            await app.db.identities.set_status(KEY.format(u), "banned", now=app.clock(), by="cli")
            if u in model.paired:
                model.banned.add(u)
                model.stale.add(u)
        else:
            await app.db.grants.add(
                scope="user",
                subject=KEY.format(u),
                tool="restart_service",
                effect="deny",
                by="cli",
                now=app.clock(),
            )
            model.revoked.add(u)
            model.stale.add(u)
        return
    if action == "link":
        v = rng.choice([x for x in USERS if x != u])
        if not (model.can_talk(u) and model.can_talk(v)) or v in model.person(u):
            return
        await app.handle(chat.message(u, f"/link {KEY.format(v)}"))
        code = chat.last(u).split("/link confirm ", 1)[1].split()[0]
        await app.handle(chat.message(v, f"/link confirm {code}"))
        model.stale.clear()
        model.link(u, v)
        model.sweep()
        return
    if action == "unlink" and model.can_talk(u):
        await app.handle(chat.message(u, "/unlink"))
        model.stale.clear()
        model.unlink(u)
        model.sweep()


def app_sandbox(app: App) -> RecordingSandbox:
    assert app.services is not None
    sandbox = app.services.sandbox
    assert isinstance(sandbox, RecordingSandbox)
    return sandbox


@pytest.mark.parametrize("seed", range(30))
async def test_runs_happen_only_when_every_check_passes(seed: int, tmp_path: Path) -> None:
    """Random admin changes, links, requests and taps: the model and the bot agree at every step."""
    rng = random.Random(seed)
    model = Model()
    chat = FakeChat()
    clock = Clock()
    permissions = copy.deepcopy(EXAMPLE["permissions"])
    sandbox = RecordingSandbox(model)
    config = make_config(tmp_path, permissions=permissions)
    app = App(config, env={}, adapters=[chat], clock=clock, sandbox=sandbox)  # type: ignore[arg-type]
    await app.start()
    try:
        for u in USERS:
            await pair(app, chat, u)
        tokens: dict[str, tuple[str, str]] = {}
        for _ in range(60):
            clock.advance(seconds=5)
            await _step(app, chat, model, rng, tokens)
            assert sandbox.violations == []
            assert await _waiting(app) == set(model.waiting), model
        assert app.db is not None
        assert (await app.db.audit.verify()).ok
    finally:
        await app.stop()


CHANGES = (
    "/ban console:local:u1",
    "/revoke console:local:u1 restart_service",
    "/lockdown",
    "/pair revoke console:local:u1",
)


async def _all_checks_pass(app: App) -> bool:
    """The model's checks for u1, read straight from storage (not through the bot's decision)."""
    db = app.db
    assert db is not None
    ident = await db.identities.get(KEY.format("u1"))
    lock = await db.settings.get("lockdown")
    revoked = any(
        g.effect == "deny" and g.subject == KEY.format("u1")
        for g in await db.grants.active(app.clock())
    )
    locked = isinstance(lock, dict) and bool(lock.get("active"))
    return ident is not None and ident.status == "paired" and not revoked and not locked


@pytest.mark.parametrize("seed", range(16))
async def test_an_admin_change_racing_the_tap_never_runs_a_refused_request(
    seed: int, tmp_path: Path
) -> None:
    """An admin change lands with the approver's tap (together, or while the tap's messages go out).

    The claim (approved -> executed, right after the last check) is the moment of acting: at
    that moment every check must pass in storage; otherwise nothing runs and the request is
    withdrawn with the precise reason.
    """
    rng = random.Random(seed)
    model = Model()
    chat = FakeChat()
    clock = Clock()
    sandbox = RecordingSandbox(model)
    app = App(make_config(tmp_path), env={}, adapters=[chat], clock=clock, sandbox=sandbox)  # type: ignore[arg-type]
    await app.start()
    try:
        db = app.db
        assert db is not None
        await pair(app, chat, "u1")
        await app.handle(chat.message("u1", "/run restart_service service=api"))
        card = chat.cards("carol")[-1].card
        assert card is not None
        at_claim: list[bool] = []
        claim = db.approvals.mark_executed

        async def checked_claim(approval_id: int, run_id: str, **kw: Any) -> bool:
            at_claim.append(await _all_checks_pass(app))
            return await claim(approval_id, run_id, **kw)

        db.approvals.mark_executed = checked_claim  # type: ignore[method-assign]
        change = chat.message("admin", rng.choice(CHANGES))
        press = chat.press("carol", card.approve_token)
        sends = rng.randrange(4)  # 0: both at once; else during the tap's k-th message out

        if sends == 0:
            events = [press, change]
            rng.shuffle(events)
            await asyncio.gather(*(app.handle(e) for e in events))
        else:
            seen = 0

            async def inject(outcome: Any) -> None:
                nonlocal seen
                seen += 1
                if seen == sends:
                    chat.on_send = None
                    await app.handle(change)

            chat.on_send = inject
            await app.handle(press)
            chat.on_send = None
            if seen < sends:
                await app.handle(change)
        ran = sandbox.started == ["u1"]
        assert at_claim in ([], [True]), (at_claim, change.text, sends)
        approval = await db.approvals.get_by_public_id(card.approval_id)
        assert approval is not None
        assert approval.status == ("executed" if ran else "cancelled"), (approval.status, sends)
        assert ran or approval.reason in ("banned", "denied_by_user", "lockdown", "unknown_user")
    finally:
        await app.stop()
