"""The command stage and the user commands: /help, /whoami, /tools, /status, /cancel.

Every command other than `/run` ends here. Admin commands (see `bot/admin.py`)
are refused to anyone who is not an admin, whatever the message says; the
refusal and every change are audited with who made it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services, tool_spec
from bot.types import ChannelKind, Outcome
from policy.permissions import allowed_tools
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
    names = allowed_tools(
        s.rules,
        user=r.actor_key,
        channel=channel.key if channel.kind is ChannelKind.GROUP else None,
        grants=await s.grants(),
        all_tools=[t.name for t in s.config.tools],
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
    if approval is None or approval.requester != r.actor_key:
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


USER: dict[str, Handler] = {
    "help": _help,
    "start": _help,
    "whoami": _whoami,
    "tools": _tools,
    "status": _status,
    "cancel": _cancel,
}


class Commands(StageBase):
    """Answers every command except `/run`, which continues down the pipeline."""

    name = "command"

    def acts(self, request: Request) -> bool:
        """Every command but `/run` acts here (and may change state); `/run` passes through."""
        return request.command != "run"

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
        try:
            answer = await handler(self._s, request)
        finally:
            if name in self._admin:
                self._s.invalidate()  # roles, grants or settings may have changed
        return Stop(
            reason=answer.reason,
            decision=answer.decision,  # type: ignore[arg-type]
            outcomes=(reply(request, answer.text), *answer.also),
            detail={**detail, **answer.detail},
        )
