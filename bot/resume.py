"""A parked request is decided again at each moment it could act, and withdrawn when it may not run.

Three moments, one decision (`bot/decision.py`, `policy/decision.py`), the state read
fresh from storage each time:

- the approver's tap (`bot/stages/approve.py`): a request that may no longer run is
  withdrawn instead of approved;
- just before the run (`claim`): re-decided and claimed approved -> executed in one
  step under the process's `acting` lock, which admin changes hold too, so a run's
  last check and an admin change never interleave in this process (and across
  processes the claim is a compare-and-set in storage);
- after every admin change (`sweep`, called by the command stage): each waiting run
  request is re-decided, and one that may no longer run, or that nobody may approve
  any more, is withdrawn at once.

A withdrawal (`withdraw`) moves the request to cancelled with the precise reason
(stored with the approval and in the audit row of the stage that made it), edits
every copy of its card to say why, and tells the requester and the card's readers.
A resumed request that ends without running for any other reason (busy, budget,
breaker) is withdrawn the same way (`settle`), never left approved and unrun.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.approvals import Parked, decided_card, edits_for, parse_ref
from bot.decision import ask_for_parked, decide_now, read_snapshot
from bot.pipeline import Request, Stop
from bot.services import Services
from bot.types import Address, Outcome
from policy.decision import Check, Verdict
from policy.reasons import Reason
from storage.approvals import Approval

__all__ = ["card_readers", "claim", "problem", "settle", "sweep", "withdraw"]


def problem(verdict: Verdict) -> Check | None:
    """Why a parked request may not go on: a failed standing check, or nobody left to approve it."""
    if verdict.blocking is not None:
        return verdict.blocking
    if verdict.action == "deny":
        return verdict.check("approvers")
    return None


def withdrawn_outcomes(
    approval: Approval, parked: Parked, refs: Sequence[str], *, why: str, label: str
) -> tuple[Outcome, ...]:
    """Every card copy edited to say why; the requester and each card's conversation told."""
    card = decided_card(approval.public_id, parked, "cancelled", label, note=f"Not run: {why}")
    text = f"request {approval.public_id} ({parked.tool}) was withdrawn and will not run: {why}."
    return (
        *edits_for(refs, card),
        Outcome(to=parked.reply, text="Your " + text),
        *card_readers(refs, "The " + text),
    )


def card_readers(refs: Sequence[str], text: str) -> tuple[Outcome, ...]:
    """One notice in each conversation that shows a copy of a card (its approvers)."""
    out: list[Outcome] = []
    seen: set[tuple[str, str]] = set()
    for raw in refs:
        ref = parse_ref(raw)
        if ref is not None and (ref.platform, ref.channel_id) not in seen:
            seen.add((ref.platform, ref.channel_id))
            to = Address(platform=ref.platform, tenant=ref.tenant, channel_id=ref.channel_id)
            out.append(Outcome(to=to, text=text))
    return tuple(out)


async def withdraw(
    s: Services,
    approval: Approval,
    *,
    reason: Reason,
    why: str,
    by: str,
    label: str,
    approved: bool = False,
    extra_refs: Sequence[str] = (),
) -> tuple[Outcome, ...] | None:
    """Cancel a waiting (or `approved`, not yet run) request; None when another decision won."""
    if approved:
        won = await s.db.approvals.withdraw(approval.id, reason=str(reason))
    else:
        won = await s.db.approvals.decide(
            approval.id, to_status="cancelled", by=by, now=s.clock(), reason=str(reason)
        )
    if not won:
        return None
    parked = Parked.from_bytes(approval.payload)
    refs = [*await s.db.approvals.card_refs(approval.id)]
    refs += [r for r in extra_refs if r not in refs]
    return withdrawn_outcomes(approval, parked, refs, why=why, label=label)


async def sweep(s: Services, *, by: str, label: str) -> tuple[tuple[Outcome, ...], dict[str, str]]:
    """Re-decide every waiting run request now; withdraw those that may not go on (see module docstring)."""
    now = s.clock()
    waiting = [a for a in await s.db.approvals.pending(now) if a.kind == "run"]
    if not waiting:
        return (), {}
    snapshot = await read_snapshot(s.db, now)
    outcomes: list[Outcome] = []
    withdrawn: dict[str, str] = {}
    for approval in waiting:
        parked = Parked.from_bytes(approval.payload)
        verdict = await decide_now(s, ask_for_parked(s, parked), reach=False, snapshot=snapshot)
        found = problem(verdict)
        if found is None:
            continue
        done = await withdraw(s, approval, reason=found.reason, why=found.why, by=by, label=label)
        if done is not None:
            outcomes.extend(done)
            withdrawn[approval.public_id] = str(found.reason)
    return tuple(outcomes), withdrawn


async def claim(s: Services, request: Request, run_id: str) -> Stop | None:
    """Re-decide an approved request and claim it for this run; a Stop says why it may not run."""
    async with s.state.acting:
        approval = await s.db.approvals.get(int(request.approval_id))
        if approval is None or approval.status != "approved":
            text = f"Request {request.approval_public_id} has already run or was withdrawn; it was not run."
            return Stop(reason=Reason.ALREADY_DECIDED, outcomes=(_say(request, text),))
        parked = Parked.from_bytes(approval.payload)
        verdict = await decide_now(s, ask_for_parked(s, parked), reach=False)
        found = verdict.blocking
        if found is not None:
            return Stop(
                reason=found.reason,
                detail={"why": found.why, "check": found.name, "recheck": "before_run"},
            )
        if not await s.db.approvals.mark_executed(approval.id, run_id):
            text = f"Request {request.approval_public_id} has already run; it was not run again."
            return Stop(reason=Reason.ALREADY_DECIDED, outcomes=(_say(request, text),))
    return None


def _say(request: Request, text: str) -> Outcome:
    if request.reply_to is not None:
        return Outcome(to=request.reply_to, text=text)
    inbound = request.inbound
    to = Address(
        platform=inbound.channel.platform,
        tenant=inbound.channel.tenant,
        channel_id=inbound.channel.channel_id,
        user_id=inbound.actor.user_id,
    )
    return Outcome(to=to, text=text)


_NOT_RUN = {
    Reason.CONCURRENCY_USER: "the requester already had the most runs in flight",
    Reason.CONCURRENCY_GLOBAL: "the bot was already running as much as it may",
    Reason.TOOL_PAUSED: "the tool is paused after repeated failures",
    Reason.BUDGET_EXHAUSTED: "the requester has used today's run budget",
    Reason.RUN_FAILED: "the tool is misconfigured (a secret it needs is not set)",
    Reason.UNKNOWN_TOOL: "the tool no longer exists",
}


async def settle(s: Services, request: Request, stop: Stop) -> Stop:
    """A resumed request that stopped without running is withdrawn with the reason it stopped."""
    approval = await s.db.approvals.get(int(request.approval_id))
    if approval is None or approval.status != "approved":
        return stop  # it ran (executed), or something else already ended it
    why = str(stop.detail.get("why", "")) or _NOT_RUN.get(stop.reason, str(stop.reason))
    done = await withdraw(
        s, approval, reason=stop.reason, why=why, by="frontdoor", label="frontdoor", approved=True
    )
    if done is None:
        return stop
    detail = {**stop.detail, "withdrawn": approval.public_id, "why": why}
    return dataclasses.replace(stop, outcomes=done, detail=detail)
