"""Admin commands that watch and steer the running bot: pending work, runs, the audit trail, lockdown, keys.

Only reached for admins (the command stage refuses everyone else); each is audited.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

from bot.approvals import decided_card, edits_for, parse_content
from bot.commands import Answer, Handler
from bot.ops import rotate_keys
from bot.pipeline import Request
from bot.resume import withdraw
from bot.services import Services, address_of
from bot.types import Outcome
from policy.reasons import Reason
from storage import FieldCipher, load_or_create_key
from storage.crypto import new_key_material, replace_key_file

__all__ = ["CONTROL", "stats_text"]

_KEY = re.compile(r"^(console|slack|telegram):[^:\s]+:[^:\s]+$")


def _usage(text: str) -> Answer:
    return Answer(text=f"Usage: {text}", reason=Reason.BAD_ARGUMENTS, decision="deny")


async def _pending(s: Services, r: Request) -> Answer:
    waiting = await s.db.approvals.pending(s.clock())
    if not waiting:
        return Answer(text="No requests are waiting for approval.")
    lines = [
        f"{a.public_id} {a.tool} for {a.requester}, expires {a.expires_at:%H:%M} UTC"
        + (" (admin only)" if a.admin_required else "")
        for a in waiting
    ]
    return Answer(text="Waiting for approval:\n" + "\n".join(lines))


async def _runs(s: Services, r: Request) -> Answer:
    live = s.sandbox.live_runs()
    if not live:
        return Answer(text="No runs in flight.")
    now = s.clock()
    lines = [
        f"{x.run_id} {x.tool} for {x.requested_by}, {(now - x.started_at).total_seconds():.0f} s"
        for x in live
    ]
    return Answer(text="Runs in flight:\n" + "\n".join(lines))


async def _kill(s: Services, r: Request) -> Answer:
    if len(r.command_args) != 1:
        return _usage("/kill RUN")
    killed = await s.sandbox.kill(r.command_args[0])
    if not killed:
        return Answer(text="No such run in flight.", reason=Reason.BAD_ARGUMENTS)
    return Answer(
        text=f"Killed {r.command_args[0]}.",
        reason=Reason.RUN_KILLED,
        detail={"run_id": r.command_args[0]},
    )


async def _audit(s: Services, r: Request) -> Answer:
    n = 10
    actor: str | None = None
    tool: str | None = None
    for arg in r.command_args:
        if arg.isdigit():
            n = max(1, min(int(arg), 100))
        elif _KEY.match(arg):
            actor = arg
        else:
            tool = arg
    rows = await s.db.audit.tail(n, actor=actor, tool=tool)
    if not rows:
        return Answer(text="The audit log has no matching rows.")
    lines = [
        f"#{row.seq} {row.ts:%H:%M:%S} {row.stage} {row.decision} {row.reason}"
        + (f" {row.actor}" if row.actor else "")
        + (f" tool={row.tool}" if row.tool else "")
        for row in rows
    ]
    return Answer(text="\n".join(lines))


async def stats_text(s: Services, now: datetime) -> str:
    """The last day in numbers, from the audit log."""
    since = now - timedelta(days=1)
    rows = [row for row in await s.db.audit.tail(5000) if row.ts >= since]
    denials: Counter[str] = Counter(row.reason for row in rows if row.decision == "deny")
    runs = sum(1 for row in rows if row.stage == "execute")
    approvals = sum(
        1 for row in rows if row.stage == "approval_gate" and row.reason == Reason.APPROVAL_REQUIRED
    )
    redactions: Counter[str] = Counter()
    for row in rows:
        if row.stage == "deliver":
            redactions.update(row.detail.get("redactions", {}))
    requests = len({row.event_id for row in rows if row.stage == "dedupe"})
    top = ", ".join(f"{k} {v}" for k, v in denials.most_common(5)) or "none"
    return (
        f"Last 24 h: {requests} events, {runs} runs, {approvals} approval requests, "
        f"{sum(denials.values())} denials ({top}), {sum(redactions.values())} redactions."
    )


async def _stats(s: Services, r: Request) -> Answer:
    return Answer(text=await stats_text(s, s.clock()))


async def _lockdown(s: Services, r: Request) -> Answer:
    now = s.clock()
    reason = " ".join(r.command_args)[:200]
    await s.db.settings.set(
        "lockdown",
        {"active": True, "by": r.actor_key, "at": now.isoformat()},
        by=r.actor_key,
        now=now,
    )
    cancelled = 0
    withdrawn: dict[str, str] = {}
    told: list[Outcome] = []
    label = r.inbound.actor.label
    for a in await s.db.approvals.pending():
        if a.kind == "run":
            done = await withdraw(
                s,
                a,
                reason=Reason.LOCKDOWN,
                why="an admin locked the bot down",
                by=r.actor_key,
                label=label,
            )
            if done is not None:
                cancelled += 1
                withdrawn[a.public_id] = str(Reason.LOCKDOWN)
                told.extend(done)
        elif await s.db.approvals.decide(
            a.id, to_status="cancelled", by=r.actor_key, now=now, reason="lockdown"
        ):
            cancelled += 1
            content = parse_content(a.kind, a.payload)
            card = decided_card(
                a.public_id, content, "cancelled", label, note="Not decided: lockdown"
            )
            told.extend(edits_for(await s.db.approvals.card_refs(a.id), card))
    killed = 0
    for run in s.sandbox.live_runs():
        if await s.sandbox.kill(run.run_id):
            killed += 1
    text = f"Lockdown on: only admins can use the bot. Cancelled {cancelled} pending approvals, killed {killed} runs."
    note = (
        f"{r.inbound.actor.label} locked the bot down"
        + (f" ({reason})" if reason else "")
        + f". {text}"
    )
    others = tuple(
        Outcome(to=address_of(a), text=note) for a in sorted(await s.admins()) if a != r.actor_key
    )
    return Answer(
        text=text,
        reason=Reason.LOCKDOWN,
        also=(*others, *told),
        detail={"cancelled": cancelled, "killed": killed, "withdrawn": withdrawn},
    )


async def _unlock(s: Services, r: Request) -> Answer:
    await s.db.settings.set("lockdown", {"active": False}, by=r.actor_key, now=s.clock())
    return Answer(text="Lockdown off: everyone paired can use the bot again.")


async def _keys(s: Services, r: Request) -> Answer:
    if r.command_args != ("rotate",):
        return _usage("/keys rotate")
    if s.key_path is None:
        env = s.config.storage.data_key_env
        text = (
            f"The data key comes from {env}, which the bot cannot change. Stop the bot, run "
            f"`frontdoor keys rotate --new-key-file FILE`, set {env} to the file's content, and start it again."
        )
        return Answer(text=text, reason=Reason.BAD_ARGUMENTS, decision="deny")
    current, _ = load_or_create_key({}, "", s.key_path)
    material = new_key_material(current)
    cipher = FieldCipher(material)
    replace_key_file(
        s.key_path, material
    )  # first: whatever happens next, the file opens every payload
    s.db.use_cipher(cipher)
    report = await rotate_keys(s.db, cipher)
    s.use_keys(cipher.derive_keys("approval-tokens"), cipher.derive_keys("pairing-codes"))
    text = (
        f"Data key rotated: {report.rotated} parked requests re-encrypted, {report.undecryptable} unreadable. "
        "The old key stays in the key file so buttons already sent keep working."
    )
    return Answer(
        text=text, detail={"rotated": report.rotated, "undecryptable": report.undecryptable}
    )


CONTROL: dict[str, Handler] = {
    "pending": _pending,
    "runs": _runs,
    "kill": _kill,
    "audit": _audit,
    "stats": _stats,
    "lockdown": _lockdown,
    "unlock": _unlock,
    "keys": _keys,
}
