"""The command stage and the user commands: /help, /whoami, /tools, /status, /cancel.

Every command other than `/run` ends here. Admin commands (see `bot/admin.py`)
are refused to anyone who is not an admin, whatever the message says; the
refusal and every change are audited with who made it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.resume import sweep
from bot.services import Services, address_of, tool_spec
from bot.stages.identity import RULES
from bot.types import ChannelKind, Outcome
from policy.pairing import hash_code, is_locked_out, new_code, same_hash
from policy.persons import link, link_needs_admin, unlink
from policy.reasons import Reason
from policy.tools import usage

__all__ = ["Answer", "Commands"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What a command says back, to the sender and to others, and what to audit."""

    text: str
    reason: Reason = Reason.COMMAND
    decision: str = "info"
    also: tuple[Outcome, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)


Handler = Callable[[Services, Request], Awaitable[Answer]]

USER_HELP = """Commands:
/run TOOL [name=value ...]  run a tool (in the sandbox)
/tools                      the tools you may use
/status                     your recent runs and waiting requests
/cancel REQUEST|RUN         withdraw your waiting request, or stop your running run
/link OTHER_ID | /unlink     tie your Slack and Telegram accounts (both confirm)
/whoami                     who the bot thinks you are
/help                       this text"""

ADMIN_HELP = """Admin commands:
/pair list | approve CODE | reject CODE | revoke USER
/grant TARGET TOOL [for 2h]    TARGET: a user id, group:NAME or channel:ID
/revoke TARGET TOOL
/role add|remove admin|approver USER
/ban USER | /unban USER | /whois USER
/autonomy LEVEL [default|USER|channel:ID]   LEVEL: autonomous, supervised, approval
/pending | /runs | /kill RUN | /audit [N] [USER|TOOL] | /stats
/limits USER [rate=N burst=N concurrency=N cpu=S runs=N | reset] | /unbench TOOL N
/forget USER (erase a user; audit rows keep a pseudonym) | /keys rotate
/explain USER TOOL [channel:ID] [name=value ...]   every check, as the bot decides it now
/link approve N | /link reject N   a link of accounts that involves a role
/lockdown [reason] | /unlock"""


async def _help(s: Services, r: Request) -> Answer:
    return Answer(text=USER_HELP + ("\n\n" + ADMIN_HELP if r.is_admin else ""))


async def _whoami(s: Services, r: Request) -> Answer:
    actor = r.inbound.actor
    roles = [name for name, yes in (("admin", r.is_admin), ("approver", r.is_approver)) if yes]
    level = await s.autonomy_for(actor.key, r.inbound.channel.key)
    text = (
        f"You are {actor.label} ({actor.key}). Roles: {', '.join(roles) or 'none'}. "
        f"Autonomy here: {level.name.lower()}."
    )
    return Answer(text=text)


async def _tools(s: Services, r: Request) -> Answer:
    channel = r.inbound.channel
    names = await s.tools_for(
        user=r.actor_key, channel=channel.key if channel.kind is ChannelKind.GROUP else None
    )
    if not names:
        return Answer(text="You may not use any tool yet. Ask an admin for a grant.")
    lines = ["Tools you may use:"]
    for name in names:
        tool = s.tool(name)
        if tool is not None:
            desc = f" - {tool.description}" if tool.description else ""
            lines.append(f"  {usage(tool_spec(tool))}  ({tool.risk} risk){desc}")
            if r.is_admin and tool.credentials:
                benched = set((await s.benched()).get(name, []))
                live = [i + 1 for i in range(len(tool.credentials)) if i not in benched]
                active = f"profile {live[0]}" if live else "none (all benched)"
                gone = sorted(i + 1 for i in benched) or "none"
                lines.append(f"    credentials: active {active}; benched {gone}")
    return Answer(text="\n".join(lines))


async def _status(s: Services, r: Request) -> Answer:
    runs = await s.db.runs.for_user(r.actor_key, 10)
    waiting = [a for a in await s.db.approvals.pending(s.clock()) if a.requester == r.actor_key]
    lines = []
    for a in waiting:
        lines.append(f"waiting: request {a.public_id} {a.tool}, expires {a.expires_at:%H:%M} UTC")
    for run in runs:
        code = "" if run.exit_code is None else f", exit {run.exit_code}"
        took = "" if run.duration_ms is None else f", {run.duration_ms / 1000:.1f} s"
        lines.append(
            f"{run.run_id} {run.tool}: {run.status}{code}{took} ({run.started_at:%Y-%m-%d %H:%M} UTC)"
        )
    return Answer(text="\n".join(lines) if lines else "You have no runs and no waiting requests.")


async def _cancel(s: Services, r: Request) -> Answer:
    if not r.command_args:
        text = "Usage: /cancel REQUEST|RUN (the id from /status)"
        return Answer(text=text, reason=Reason.BAD_ARGUMENTS)
    if r.command_args[0].startswith("run-"):
        run_id = r.command_args[0]
        mine = [
            x for x in s.sandbox.live_runs() if x.run_id == run_id and x.requested_by == r.actor_key
        ]
        if not mine or not await s.sandbox.kill(run_id):
            text = "You have no running run with that id."
            return Answer(text=text, reason=Reason.BAD_ARGUMENTS, decision="deny")
        return Answer(
            text=f"Stopping {run_id}.", reason=Reason.RUN_KILLED, detail={"run_id": run_id}
        )
    public_id = r.command_args[0].upper()
    approval = await s.db.approvals.get_by_public_id(public_id)
    if approval is None or approval.requester not in (await s.person(r.actor_key)).members:
        return Answer(
            text="You have no waiting request with that id.",
            reason=Reason.TOKEN_INVALID,
            decision="deny",
        )
    won = await s.db.approvals.decide(
        approval.id,
        to_status="cancelled",
        by=r.actor_key,
        now=s.clock(),
        reason="cancelled_by_requester",
    )
    if not won:
        return Answer(
            text=f"Request {public_id} was already decided.", reason=Reason.ALREADY_DECIDED
        )
    from bot.approvals import Parked, decided_card, edits_for

    parked = Parked.from_bytes(approval.payload)
    card = decided_card(public_id, parked, "cancelled", r.inbound.actor.label)
    edits = edits_for(await s.db.approvals.card_refs(approval.id), card)
    return Answer(
        text=f"Request {public_id} cancelled.", reason=Reason.APPROVAL_CANCELLED, also=edits
    )


_KEY = re.compile(r"^(console|slack|telegram):[^:\s]+:[^:\s]+$")
LINK_TTL = timedelta(minutes=10)
LINK_APPROVAL_TTL = timedelta(days=1)
_CHANGES_PERSONS = frozenset({"link", "unlink"})  # after these too, waiting requests are re-decided


async def _link(s: Services, r: Request) -> Answer:
    """`/link OTHER_ID` starts linking two identities of one person; `/link confirm CODE` from the other ends it."""
    args = r.command_args
    me = r.actor_key
    now = s.clock()
    if len(args) == 2 and args[0].lower() == "confirm":
        return await _link_confirm(s, r, args[1])
    if len(args) == 2 and args[0].lower() in ("approve", "reject"):
        return await _link_decide(s, r, args[1], approve=args[0].lower() == "approve")
    if len(args) == 1 and args[0].lower() == "list":
        others = (await s.linked(me))[1:]
        return Answer(text="Linked with: " + (", ".join(others) if others else "nobody"))
    if len(args) != 1 or not _KEY.match(args[0]) or args[0] == me:
        return Answer(
            text="Usage: /link OTHER_ID (e.g. /link slack:T0123:U0456), then /link confirm CODE from that account; "
            "/link list; /unlink",
            reason=Reason.BAD_ARGUMENTS,
        )
    code = new_code()
    pending = await s.db.settings.get("link_requests")
    pending = {
        h: v for h, v in (pending or {}).items() if datetime.fromisoformat(v["expires"]) > now
    }
    pending[hash_code(code, s.pepper)] = {
        "from": me,
        "to": args[0],
        "expires": (now + LINK_TTL).isoformat(),
    }
    await s.db.settings.set("link_requests", pending, by=me, now=now)
    text = (
        f"To link {args[0]} with this account, send /link confirm {code[:4]}-{code[4:]} from {args[0]} "
        f"within {int(LINK_TTL / timedelta(minutes=1))} minutes."
    )
    return Answer(text=text, detail={"to": args[0]})


async def _link_confirm(s: Services, r: Request, code: str) -> Answer:
    me = r.actor_key
    now = s.clock()
    failures = await s.db.pairings.failures_since(me, now - RULES.failure_window)
    if is_locked_out(rules=RULES, now=now, failures_in_window=failures):
        return Answer(
            text="Too many wrong codes; try again later.",
            reason=Reason.PAIRING_LOCKED_OUT,
            decision="deny",
        )
    pending = await s.db.settings.get("link_requests") or {}
    wanted = s.code_hashes(code)
    found = next((v for h, v in pending.items() if any(same_hash(h, w) for w in wanted)), None)
    if found is None or found["to"] != me or datetime.fromisoformat(found["expires"]) <= now:
        await s.db.pairings.record_failure(me, now)
        return Answer(
            text="No link request for this account has that code.",
            reason=Reason.PAIRING_CODE_INVALID,
            decision="deny",
        )
    other = found["from"]
    await s.db.settings.set(
        "link_requests", {h: v for h, v in pending.items() if v is not found}, by=me, now=now
    )
    admins, approvers = await s.admins(), await s.approvers()
    if link_needs_admin(
        await s.person(other), await s.person(me), admins=admins, approvers=approvers
    ):
        waiting = dict(await s.db.settings.get("link_pending") or {})
        number = str(max((int(k) for k in waiting if k.isdigit()), default=0) + 1)
        waiting[number] = {"a": other, "b": me, "expires": (now + LINK_APPROVAL_TTL).isoformat()}
        await s.db.settings.set("link_pending", waiting, by=me, now=now)
        note = (
            f"{other} and {me} asked to be linked as one person. One of them holds a role, so an admin "
            f"who is neither must approve: /link approve {number} (or /link reject {number})."
        )
        sides = (await s.person(other)).members | (await s.person(me)).members
        others = tuple(
            Outcome(to=address_of(a), text=note) for a in sorted(admins) if a not in sides
        )
        tell = Outcome(
            to=address_of(other), text=f"{me} confirmed the link; an admin must approve it."
        )
        return Answer(
            text=f"Confirmed. Because a role is involved, an admin must approve the link (request {number}).",
            reason=Reason.LINK_NEEDS_ADMIN,
            also=(tell, *others),
            detail={"linked": other, "link_request": number},
        )
    return await _join(
        s,
        other,
        me,
        by=me,
        extra=f"{me} is now linked with this account: your grants follow you there.",
    )


async def _join(s: Services, a: str, b: str, *, by: str, extra: str) -> Answer:
    """Link `a` and `b` into one person; tell `a`."""
    now = s.clock()
    links = await s.db.settings.get("links") or {}
    links = link(links, a, b, new_id=f"person-{secrets.token_hex(4)}")
    await s.db.settings.set("links", links, by=by, now=now)
    s.invalidate()
    tell = Outcome(to=address_of(a), text=extra)
    return Answer(
        text=f"Linked with {a}." if by == b else f"Linked {a} and {b}.",
        also=(tell,),
        detail={"linked": a, "with": b},
    )


async def _link_decide(s: Services, r: Request, number: str, *, approve: bool) -> Answer:
    """An admin who is neither side approves (or rejects) a link that involves a role."""
    if not r.is_admin:
        return Answer(
            text="Only an admin may approve a link.", reason=Reason.NOT_ADMIN, decision="deny"
        )
    waiting = dict(await s.db.settings.get("link_pending") or {})
    found = waiting.get(number)
    expires = found.get("expires") if isinstance(found, dict) else None
    if not isinstance(expires, str) or datetime.fromisoformat(expires) <= s.clock():
        return Answer(
            text=f"No link request {number} is waiting (they expire after a day).",
            reason=Reason.BAD_ARGUMENTS,
        )
    assert isinstance(found, dict)
    a, b = str(found["a"]), str(found["b"])
    sides = (await s.person(a)).members | (await s.person(b)).members
    if r.actor_key in sides:
        return Answer(
            text="Another admin must approve a link of your own accounts.",
            reason=Reason.SELF_APPROVAL,
            decision="deny",
        )
    del waiting[number]
    await s.db.settings.set("link_pending", waiting, by=r.actor_key, now=s.clock())
    if not approve:
        tell = tuple(
            Outcome(to=address_of(k), text=f"An admin rejected linking {a} and {b}.")
            for k in (a, b)
        )
        return Answer(text=f"Rejected link request {number}.", also=tell, detail={"a": a, "b": b})
    answer = await _join(
        s, a, b, by=r.actor_key, extra=f"An admin approved: {a} and {b} are linked as one person."
    )
    told_b = Outcome(
        to=address_of(b), text=f"An admin approved: {a} and {b} are linked as one person."
    )
    return Answer(text=answer.text, also=(*answer.also, told_b), detail=answer.detail)


async def _unlink(s: Services, r: Request) -> Answer:
    links = await s.db.settings.get("links") or {}
    if r.actor_key not in links:
        return Answer(text="This account is not linked.")
    await s.db.settings.set("links", unlink(links, r.actor_key), by=r.actor_key, now=s.clock())
    s.invalidate()
    return Answer(text="Unlinked: this account has only its own grants now.")


USER: dict[str, Handler] = {
    "help": _help,
    "start": _help,
    "whoami": _whoami,
    "tools": _tools,
    "status": _status,
    "cancel": _cancel,
    "link": _link,
    "unlink": _unlink,
}


class Commands(StageBase):
    """Answers every command except `/run`, which continues down the pipeline."""

    name = "command"

    def __init__(self, services: Services, admin: Mapping[str, Handler]) -> None:
        self._s = services
        self._admin = admin

    async def __call__(self, request: Request) -> Continue | Stop:
        """Handle the command; refuse admin commands to non-admins."""
        name = request.command
        if name == "run":
            return Continue(request=request)
        detail: dict[str, Any] = {"command": name}
        handler = USER.get(name)
        if handler is None:
            handler = self._admin.get(name)
            if handler is None:
                text = "I don't know that command. Send /help for the list."
                return Stop(
                    reason=Reason.UNKNOWN_COMMAND, outcomes=(reply(request, text),), detail=detail
                )
            if not request.is_admin:
                text = "That command is for admins."
                return Stop(
                    reason=Reason.NOT_ADMIN, outcomes=(reply(request, text),), detail=detail
                )
        if name not in self._admin and name not in _CHANGES_PERSONS:
            answer = await handler(self._s, request)
            withdrawn: tuple[Outcome, ...] = ()
        else:
            # An admin change (or a link) and the sweep of the waiting requests it affects are
            # one step: no parked request is decided or claimed in between (bot/resume.py).
            async with self._s.state.acting:
                try:
                    answer = await handler(self._s, request)
                finally:
                    self._s.invalidate()  # roles, grants or settings may have changed
                actor = request.inbound.actor
                withdrawn, which = await sweep(self._s, by=actor.key, label=actor.label)
            if which:
                detail["withdrawn"] = which
        return Stop(
            reason=answer.reason,
            decision=answer.decision,  # type: ignore[arg-type]
            outcomes=(reply(request, answer.text), *answer.also, *withdrawn),
            detail={**detail, **answer.detail},
        )
