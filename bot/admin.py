"""Admin commands about people and access: pairing, grants, roles, bans, limits, autonomy, forgetting.

The commands that watch and steer the running bot live in `bot/control.py`; `ADMIN` holds both.

Only reached for admins (the command stage refuses everyone else). Changes live
in storage and take effect at once; each is audited with who made it. Pairing
codes are compared as keyed hashes and never written anywhere; wrong codes lock
out the admin account that tried them, never the users waiting to be paired.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.approvals import edits_for
from bot.commands import Answer, Handler
from bot.config import parse_duration
from bot.control import CONTROL
from bot.explain import explain_command
from bot.ops import forget_user
from bot.pipeline import Request
from bot.resume import card_readers
from bot.services import Services, address_of
from bot.stages.identity import PAIRED_TEXT, RULES, close_pairing_card, set_identity
from bot.types import ApprovalCard, CardKind, CardState, Outcome
from policy.autonomy import Autonomy
from policy.pairing import is_locked_out
from policy.reasons import Reason

__all__ = ["ADMIN"]

_KEY = re.compile(r"^(console|slack|telegram):[^:\s]+:[^:\s]+$")


def _usage(text: str) -> Answer:
    return Answer(text=f"Usage: {text}", reason=Reason.BAD_ARGUMENTS, decision="deny")


# --- pairing ---------------------------------------------------------------------------------


async def _pair(s: Services, r: Request) -> Answer:
    args = r.command_args
    sub = args[0].lower() if args else ""
    if sub == "list":
        now = s.clock()
        pending = [
            p
            for plat in ("console", "slack", "telegram")
            for p in await s.db.pairings.pending_for_platform(plat, now)
        ]
        if not pending:
            return Answer(text="No pairing requests are waiting.")
        lines = [
            f"#{p.id} {p.display_name} ({p.actor_key}), expires {p.expires_at:%H:%M} UTC"
            for p in pending
        ]
        return Answer(text="Waiting pairing requests:\n" + "\n".join(lines))
    if sub in ("approve", "reject") and len(args) >= 2:
        return await _decide_pairing(s, r, approve=sub == "approve", code="".join(args[1:]))
    if sub == "revoke" and len(args) == 2:
        return await _unpair(s, r, args[1])
    return _usage("/pair list | /pair approve CODE | /pair reject CODE | /pair revoke USER")


async def _decide_pairing(s: Services, r: Request, *, approve: bool, code: str) -> Answer:
    now = s.clock()
    sender = r.actor_key
    failures = await s.db.pairings.failures_since(sender, now - RULES.failure_window)
    if is_locked_out(rules=RULES, now=now, failures_in_window=failures):
        minutes = int(RULES.lockout / timedelta(minutes=1))
        text = f"Too many wrong pairing codes from you; try again in {minutes} minutes."
        return Answer(text=text, reason=Reason.PAIRING_LOCKED_OUT, decision="deny")
    found = await s.db.pairings.find_pending_by_hashes(s.code_hashes(code), now)
    if found is None:
        await s.db.pairings.record_failure(sender, now)
        text = "No waiting pairing request has that code (codes expire after an hour)."
        return Answer(text=text, reason=Reason.PAIRING_CODE_INVALID, decision="deny")
    status = "approved" if approve else "rejected"
    if not await s.db.pairings.decide(found.id, status=status, by=sender, now=now):
        return Answer(
            text=f"Pairing request #{found.id} was already decided.", reason=Reason.ALREADY_DECIDED
        )
    await s.db.pairings.clear_failures(sender)
    detail = {"pairing_id": found.id, "user": found.actor_key}
    label = r.inbound.actor.label
    edits = await close_pairing_card(
        s, found.id, "approved" if approve else "denied", sender, label
    )
    if approve:
        await set_identity(
            s, found.actor_key, status="paired", display_name=found.display_name, by=sender
        )
        tell = Outcome(
            to=address_of(found.actor_key),
            text=PAIRED_TEXT,
        )
        return Answer(
            text=f"Paired {found.display_name} ({found.actor_key}).",
            reason=Reason.PAIRING_APPROVED,
            also=(tell, *edits),
            detail=detail,
        )
    tell = Outcome(
        to=address_of(found.actor_key), text="Your pairing request was rejected by an admin."
    )
    return Answer(
        text=f"Rejected pairing request #{found.id} from {found.display_name}.",
        reason=Reason.PAIRING_REJECTED,
        also=(tell, *edits),
        detail=detail,
    )


async def _unpair(s: Services, r: Request, user: str) -> Answer:
    if not _KEY.match(user):
        return _usage("/pair revoke platform:tenant:user")
    ident = await s.db.identities.get(user)
    if ident is None or ident.status != "paired":
        return Answer(text=f"{user} is not paired.", reason=Reason.UNKNOWN_USER)
    await s.db.identities.delete(user)
    return Answer(text=f"Unpaired {user}; they must pair again.", detail={"user": user})


# --- access ----------------------------------------------------------------------------------


def _target(text: str) -> tuple[str, str] | None:
    if text.startswith("group:") and len(text) > 6:
        return "group", text[6:]
    if text.startswith("channel:") and _KEY.match(text[8:]):
        return "channel", text[8:]
    if text == "global":
        return "global", "*"
    if _KEY.match(text):
        return "user", text
    return None


def _grant_args(s: Services, r: Request) -> tuple[str, str, str, float | None] | Answer:
    args = list(r.command_args)
    expires: float | None = None
    if len(args) >= 4 and args[-2].lower() == "for":
        try:
            expires = parse_duration(args[-1])
        except ValueError:
            return _usage("/grant TARGET TOOL [for 2h]")
        args = args[:-2]
    if len(args) != 2:
        return _usage(
            f"/{r.command} TARGET TOOL [for 2h]  (TARGET: a user id, group:NAME, channel:ID or global)"
        )
    target = _target(args[0])
    if target is None:
        return _usage(
            "TARGET is platform:tenant:user, group:NAME, channel:platform:tenant:channel or global"
        )
    tool = args[1]
    if tool != "*" and s.tool(tool) is None:
        return Answer(
            text=f"There is no tool called {tool}.", reason=Reason.UNKNOWN_TOOL, decision="deny"
        )
    return target[0], target[1], tool, expires


async def _grant(s: Services, r: Request) -> Answer:
    parsed = _grant_args(s, r)
    if isinstance(parsed, Answer):
        return parsed
    scope, subject, tool, seconds = parsed
    now = s.clock()
    await s.db.grants.revoke((scope, subject, tool), by=r.actor_key, now=now)
    until = now + timedelta(seconds=seconds) if seconds else None
    await s.db.grants.add(
        scope=scope,
        subject=subject,
        tool=tool,
        effect="allow",
        by=r.actor_key,
        now=now,
        expires_at=until,
    )
    when = f" until {until:%Y-%m-%d %H:%M} UTC" if until else ""
    return Answer(
        text=f"Granted {tool} to {scope} {subject}{when}.",
        detail={
            "scope": scope,
            "subject": subject,
            "tool": tool,
            "expires": until.isoformat() if until else None,
        },
    )


async def _revoke(s: Services, r: Request) -> Answer:
    parsed = _grant_args(s, r)
    if isinstance(parsed, Answer):
        return parsed
    scope, subject, tool, _ = parsed
    now = s.clock()
    await s.db.grants.revoke((scope, subject, tool), by=r.actor_key, now=now)
    await s.db.grants.add(
        scope=scope, subject=subject, tool=tool, effect="deny", by=r.actor_key, now=now
    )
    return Answer(
        text=f"Revoked {tool} from {scope} {subject}.",
        detail={"scope": scope, "subject": subject, "tool": tool},
    )


async def _role(s: Services, r: Request) -> Answer:
    args = r.command_args
    if (
        len(args) != 3
        or args[0] not in ("add", "remove")
        or args[1] not in ("admin", "approver")
        or not _KEY.match(args[2])
    ):
        return _usage("/role add|remove admin|approver platform:tenant:user")
    action, role, user = args
    if action == "add":
        await s.db.roles.add(user, role, by=r.actor_key, now=s.clock())
    else:
        if user in (s.config.roles.admins if role == "admin" else s.config.roles.approvers):
            return Answer(
                text=f"{user} is {role} in config.yaml; change it there.",
                reason=Reason.BAD_ARGUMENTS,
            )
        await s.db.roles.remove(user, role)
    return Answer(
        text=f"{user}: {role} {'added' if action == 'add' else 'removed'}.",
        detail={"user": user, "role": role, "action": action},
    )


async def _ban(s: Services, r: Request) -> Answer:
    args = r.command_args
    if len(args) != 1 or not _KEY.match(args[0]):
        return _usage("/ban platform:tenant:user")
    user = args[0]
    person = await s.person(user)
    admins = person.holds(await s.admins())
    if admins:
        linked = "" if admins == {user} else f" ({user} is linked with {', '.join(sorted(admins))})"
        return Answer(
            text=f"Admins cannot be banned{linked}; remove the role first.",
            reason=Reason.BAD_ARGUMENTS,
            decision="deny",
        )
    await set_identity(s, user, status="banned", display_name=user.split(":", 2)[2], by=r.actor_key)
    s.state.banned_told.discard(user)
    killed = [
        run.run_id
        for run in s.sandbox.live_runs()
        if run.requested_by in person.members and await s.sandbox.kill(run.run_id)
    ]
    whole = (
        f" and every identity linked with it ({', '.join(person.others)})" if person.others else ""
    )
    stopped = f"; stopped {len(killed)} of their runs" if killed else ""
    return Answer(
        text=f"Banned {user}{whole}{stopped}.",
        detail={"user": user, "linked": list(person.others), "killed": killed},
    )


async def _unban(s: Services, r: Request) -> Answer:
    args = r.command_args
    if len(args) != 1 or not _KEY.match(args[0]):
        return _usage("/unban platform:tenant:user")
    ident = await s.db.identities.get(args[0])
    if ident is None or ident.status != "banned":
        return Answer(text=f"{args[0]} is not banned.")
    await s.db.identities.set_status(args[0], "paired", now=s.clock(), by=r.actor_key)
    s.invalidate()
    still = [k for k in (await s.person(args[0])).others if await s.person_banned(k)]
    more = f" Still banned through a linked identity ({', '.join(still)})." if still else ""
    return Answer(
        text=f"Unbanned {args[0]}; they are paired again.{more}", detail={"user": args[0]}
    )


async def _whois(s: Services, r: Request) -> Answer:
    args = r.command_args
    if len(args) != 1 or not _KEY.match(args[0]):
        return _usage("/whois platform:tenant:user")
    user = args[0]
    ident = await s.db.identities.get(user)
    roles = [
        n
        for n, members in (("admin", await s.admins()), ("approver", await s.approvers()))
        if user in members
    ]
    status = ident.status if ident is not None else ("known by role" if roles else "unknown")
    runs = await s.db.runs.for_user(user, 5)
    linked = ", ".join((await s.person(user)).others) or "nobody"
    text = (
        f"{user}: {status}; roles: {', '.join(roles) or 'none'}; linked with: {linked}; "
        f"recent runs: {len(runs)}."
    )
    return Answer(text=text)


# --- control ---------------------------------------------------------------------------------


async def _autonomy(s: Services, r: Request) -> Answer:
    args = r.command_args
    levels = ("autonomous", "supervised", "approval")
    if not args or args[0].lower() not in levels or len(args) > 2:
        return _usage("/autonomy autonomous|supervised|approval [default|USER|channel:ID]")
    level = args[0].lower()
    scope = args[1] if len(args) == 2 else "default"
    current = await s.autonomy_overrides()
    current = {
        "default": current.get("default"),
        "users": dict(current.get("users", {})),
        "channels": dict(current.get("channels", {})),
    }
    if scope == "default":
        current["default"] = level
    elif scope.startswith("channel:") and _KEY.match(scope[8:]):
        current["channels"][scope[8:]] = level
    elif _KEY.match(scope):
        current["users"][scope] = level
    else:
        return _usage(
            "/autonomy LEVEL [default|platform:tenant:user|channel:platform:tenant:channel]"
        )
    Autonomy.parse(level)
    await s.db.settings.set("autonomy", current, by=r.actor_key, now=s.clock())
    return Answer(
        text=f"Autonomy for {scope} is now {level}.", detail={"scope": scope, "level": level}
    )


_LIMIT_KEYS = {"rate": float, "burst": int, "concurrency": int, "cpu": float, "runs": int}


async def _limits(s: Services, r: Request) -> Answer:
    args = r.command_args
    if not args or not _KEY.match(args[0]):
        return _usage("/limits USER [rate=N burst=N concurrency=N cpu=SECONDS runs=N | reset]")
    user = args[0]
    current = await s.user_limits(user)
    changes = args[1:]
    if changes == ("reset",):
        current = {}
    else:
        for change in changes:
            name, _, value = change.partition("=")
            kind = _LIMIT_KEYS.get(name)
            try:
                number = kind(value) if kind is not None else None
            except ValueError:
                number = None
            if number is None or number <= 0:
                return _usage(
                    "/limits USER [rate=N burst=N concurrency=N cpu=SECONDS runs=N | reset] (positive numbers)"
                )
            current[name] = number
    if changes:
        everyone = await s.db.settings.get("limits")
        everyone = dict(everyone) if isinstance(everyone, dict) else {}
        if current:
            everyone[user] = current
        else:
            everyone.pop(user, None)
        await s.db.settings.set("limits", everyone, by=r.actor_key, now=s.clock())
        s.state.buckets.pop(user, None)
    rl = s.config.rate_limits
    shown = {
        "rate": current.get("rate", rl.per_user.rate),
        "burst": current.get("burst", rl.per_user.burst),
        "concurrency": current.get("concurrency", rl.max_concurrent_per_user),
        "cpu": current.get("cpu", rl.cpu_seconds_per_day),
        "runs": current.get("runs", rl.runs_per_day),
    }
    _day, cpu, runs = s.state.usage.get(user, (None, 0.0, 0))
    text = (
        f"Limits for {user}: {shown['rate']:g}/min (burst {shown['burst']:g}), {shown['concurrency']:g} runs at once, "
        f"{shown['cpu']:g} CPU s and {shown['runs']:g} runs a day"
        + (" (own limits)" if current else " (defaults)")
        + f". Used today: {cpu:.1f} CPU s, {runs} runs."
    )
    return Answer(text=text, detail={"user": user, "changes": list(changes)})


async def _unbench(s: Services, r: Request) -> Answer:
    args = r.command_args
    if len(args) != 2 or not args[1].isdigit():
        return _usage("/unbench TOOL PROFILE_NUMBER")
    tool, index = args[0], int(args[1]) - 1
    benched = await s.benched()
    left = [i for i in benched.get(tool, []) if i != index]
    await s.db.settings.set("benched", {**benched, tool: left}, by=r.actor_key, now=s.clock())
    return Answer(
        text=f"Credential profile {index + 1} of {tool} is back in use.",
        detail={"tool": tool, "profile": index + 1},
    )


async def _forget(s: Services, r: Request) -> Answer:
    args = r.command_args
    if len(args) != 1 or not _KEY.match(args[0]):
        return _usage(
            "/forget platform:tenant:user  (erases the user; their audit rows keep a pseudonym)"
        )
    user = args[0]
    if user in await s.admins() or user in await s.approvers():
        text = f"{user} has a role in config.yaml or at run time; remove it first."
        return Answer(text=text, reason=Reason.BAD_ARGUMENTS, decision="deny")
    report = await forget_user(s.db, user, by=r.actor_key, now=s.clock())
    s.invalidate()
    s.state.buckets.pop(user, None)
    s.state.usage.pop(user, None)
    edits: list[Outcome] = []
    for parked in report.cancelled:
        card = ApprovalCard(
            approval_id=parked.public_id,
            kind=CardKind.RUN,
            title=f"Request {parked.public_id}",
            lines=("Not run: withdrawn because the requester's data was erased",),
            approve_token="",
            deny_token="",
            state=CardState.CANCELLED,
            decided_by=r.inbound.actor.label,
        )
        edits.extend(edits_for(list(parked.card_refs), card))
        note = f"Request {parked.public_id} was withdrawn and will not run: the requester's data was erased."
        edits.extend(card_readers(parked.card_refs, note))
    if report.cancelled:
        ids = ", ".join(p.public_id for p in report.cancelled)
        edits.append(
            Outcome(
                to=address_of(user),
                text=f"Your waiting requests ({ids}) were withdrawn and will not run: your data was erased.",
            )
        )
    text = (
        f"Forgot {report.pseudonym}: {sum(report.deleted.values())} records deleted, "
        f"{report.audit_rows} audit rows pseudonymised, {len(report.cancelled)} requests withdrawn; "
        f"audit chain {'verifies' if report.audit_ok else 'DOES NOT verify'}."
    )
    return Answer(text=text, also=tuple(edits), detail={"pseudonym": report.pseudonym})


ADMIN: dict[str, Handler] = {
    **CONTROL,
    "pair": _pair,
    "grant": _grant,
    "revoke": _revoke,
    "role": _role,
    "ban": _ban,
    "unban": _unban,
    "whois": _whois,
    "autonomy": _autonomy,
    "limits": _limits,
    "unbench": _unbench,
    "forget": _forget,
    "explain": explain_command,
}
