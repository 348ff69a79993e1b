"""The button path: a tap on an approval card resumes (or ends) a parked request, exactly once.

`ResolveToken` maps the button's opaque token to its approval (storage keeps only
keyed hashes, so a forged or replayed token matches nothing). `Decide` checks the
presser server-side against the state as it is now (an allowed approver, not the
requester's person unless configured, an admin for critical tools), then, for an
approval, decides the stored request again (`bot/resume.py`): one that may no longer
run (requester banned, unpaired, revoked, locked down, over budget ...) is withdrawn
with the reason, and the approver and the requester are told. Otherwise it makes the
one state transition that can win; every copy of the card is edited to show the
decision and who made it. An approved request continues to the execute stage with
the stored request, not with anything the button carried, and is decided once more
just before it runs.
"""

from __future__ import annotations

import dataclasses

from bot.approvals import PairingCard, Parked, decided_card, edits_for, ref_json
from bot.decision import ask_for_parked, standing_now
from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.resume import problem, withdraw
from bot.services import Services, address_of
from bot.stages.identity import PAIRED_TEXT, set_identity
from bot.types import Outcome
from policy.approvals import (
    ApprovalStatus,
    Decision,
    check_approver,
    is_token_shaped,
    transition,
)
from policy.decision import decide
from policy.persons import person_of
from policy.reasons import Reason
from storage.approvals import Approval

__all__ = ["Decide", "ResolveToken"]

_INVALID = "This button is not valid any more (it may have been used, or the request is gone)."

_REFUSALS = {
    Reason.NOT_ADMIN: "Only admins decide pairing requests, so nothing changed.",
    Reason.NOT_AN_APPROVER: "You are not an approver for this request, so nothing changed.",
    Reason.SELF_APPROVAL: "You cannot approve your own request, so nothing changed.",
    Reason.ADMIN_APPROVER_REQUIRED: "This request needs an admin's approval, so nothing changed.",
    Reason.BANNED: "You are not allowed to decide requests, so nothing changed.",
}


class ResolveToken(StageBase):
    """Finds the approval a button token belongs to."""

    name = "resolve_token"

    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, request: Request) -> Continue | Stop:
        """Continue with the approval and the button's decision, or refuse an unknown token."""
        token = request.inbound.token
        if not is_token_shaped(token):
            return Stop(reason=Reason.TOKEN_INVALID, outcomes=(reply(request, _INVALID),))
        found = await self._s.db.approvals.find_by_token_hashes(self._s.token_hashes(token))
        if found is None:
            return Stop(reason=Reason.TOKEN_INVALID, outcomes=(reply(request, _INVALID),))
        approval, action = found
        resolved = dataclasses.replace(
            request,
            approval_id=str(approval.id),
            approval_public_id=approval.public_id,
            command=action,
            tool=approval.tool,
        )
        return Continue(request=resolved, detail={"approval": approval.public_id, "action": action})


class Decide(StageBase):
    """Checks the presser and makes the single winning transition."""

    name = "decide"

    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, request: Request) -> Continue | Stop:
        """Continue to execution when approved; otherwise stop with the card updated."""
        s = self._s
        approval = await s.db.approvals.get(int(request.approval_id))
        if approval is None:
            return Stop(reason=Reason.TOKEN_INVALID, outcomes=(reply(request, _INVALID),))
        decision = Decision(request.command)
        detail = {"approval": approval.public_id, "action": decision.value}
        if approval.kind == "pairing":
            if not request.is_admin:
                text = _REFUSALS[Reason.NOT_ADMIN]
                return Stop(
                    reason=Reason.NOT_ADMIN, outcomes=(reply(request, text),), detail=detail
                )
            return await self._pairing(request, approval, decision, detail)
        parked = Parked.from_bytes(approval.payload)
        if parked.request_hash() != approval.request_hash:
            return Stop(
                reason=Reason.INTERNAL_ERROR,
                outcomes=(
                    reply(request, "This request failed an integrity check and will not run."),
                ),
                detail={**detail, "error": "request_hash_mismatch"},
            )
        async with s.state.acting:  # the state read here is the state this decision is made in
            return await self._decide(request, approval, parked, decision, detail)

    async def _decide(
        self,
        request: Request,
        approval: Approval,
        parked: Parked,
        decision: Decision,
        detail: dict[str, str],
    ) -> Continue | Stop:
        s = self._s
        presser = request.actor_key
        standing = await standing_now(s, parked.requester, reach=False)
        verdict = decide(standing, ask_for_parked(s, parked))
        verdict_of_presser = check_approver(
            presser=presser,
            requester=approval.requester,
            approvers=standing.approvers,
            admins=standing.admins,
            admin_required=approval.admin_required or verdict.admin_required,
            allow_self_approval=standing.allow_self_approval,
            decision=decision,
            links=standing.links,
        )
        if person_of(presser, standing.links).members & standing.banned:
            verdict_of_presser = Reason.BANNED
        if verdict_of_presser is not Reason.OK:
            text = _REFUSALS.get(
                verdict_of_presser, "You cannot decide this request, so nothing changed."
            )
            return Stop(reason=verdict_of_presser, outcomes=(reply(request, text),), detail=detail)
        label = request.inbound.actor.label
        pressed = request.inbound.message
        extra = [ref_json(pressed)] if pressed is not None else []
        live = s.clock() < approval.expires_at  # a late tap is reported as expired, below
        found = problem(verdict) if decision is Decision.APPROVE and live else None
        if found is not None:
            done = await withdraw(
                s,
                approval,
                reason=found.reason,
                why=found.why,
                by=presser,
                label=label,
                extra_refs=extra,
            )
            if done is not None:
                told = reply(
                    request,
                    f"Request {approval.public_id} ({parked.tool}) was not approved: {found.why}. "
                    "It was withdrawn and will not run.",
                )
                return Stop(
                    reason=found.reason,
                    outcomes=(*done, told),
                    detail={**detail, "why": found.why, "check": found.name, "recheck": "at_tap"},
                )
        now = s.clock()
        status = ApprovalStatus(approval.status)
        new_status, why = transition(status, decision, now=now, expires_at=approval.expires_at)
        won = new_status is not status and await s.db.approvals.decide(
            approval.id, to_status=new_status.value, by=presser, now=now, reason=str(why)
        )
        if not won:
            fresh = await s.db.approvals.get(approval.id)
            state = fresh.status if fresh is not None else "gone"
            who = f" by {fresh.decided_by}" if fresh is not None and fresh.decided_by else ""
            text = (
                f"Request {approval.public_id} was already decided ({state}{who}); nothing changed."
            )
            return Stop(
                reason=Reason.ALREADY_DECIDED, outcomes=(reply(request, text),), detail=detail
            )
        refs = await s.db.approvals.card_refs(approval.id)
        refs = [*refs, *(r for r in extra if r not in refs)]
        edits = edits_for(refs, decided_card(approval.public_id, parked, new_status.value, label))
        if new_status is not ApprovalStatus.APPROVED:
            words = {
                ApprovalStatus.DENIED: f"was denied by {label}",
                ApprovalStatus.EXPIRED: "expired before it was approved",
            }.get(new_status, "was closed")
            notice = Outcome(
                to=parked.reply,
                text=f"Your request {approval.public_id} ({parked.tool}) {words}; it was not run.",
            )
            return Stop(reason=why, decision="info", outcomes=(*edits, notice), detail=detail)
        started = Outcome(
            to=parked.reply,
            text=f"Request {approval.public_id} ({parked.tool}) was approved by {label}; running it now.",
        )
        resumed = dataclasses.replace(
            request,
            tool=parked.tool,
            args=parked.args,
            argv=parked.argv,
            requester=parked.requester,
            reply_to=parked.reply,
        )
        return Continue(request=resumed, reason=why, detail=detail, outcomes=(*edits, started))

    async def _pairing(
        self, request: Request, approval: Approval, decision: Decision, detail: dict[str, str]
    ) -> Stop:
        """An admin's tap on a pairing card: pair (or reject) the user, close the card, tell them."""
        s = self._s
        now = s.clock()
        content = PairingCard.from_bytes(approval.payload)
        status = "approved" if decision is Decision.APPROVE else "denied"
        won = await s.db.approvals.decide(
            approval.id, to_status=status, by=request.actor_key, now=now, reason="card"
        )
        pairing = await s.db.pairings.get(content.pairing_id)
        if not won or pairing is None or pairing.status != "pending" or pairing.expires_at <= now:
            text = f"Pairing request #{content.pairing_id} was already decided or has expired; nothing changed."
            return Stop(
                reason=Reason.ALREADY_DECIDED, outcomes=(reply(request, text),), detail=detail
            )
        pairing_status = "approved" if decision is Decision.APPROVE else "rejected"
        if not await s.db.pairings.decide(
            pairing.id, status=pairing_status, by=request.actor_key, now=now
        ):
            text = f"Pairing request #{content.pairing_id} was already decided; nothing changed."
            return Stop(
                reason=Reason.ALREADY_DECIDED, outcomes=(reply(request, text),), detail=detail
            )
        label = request.inbound.actor.label
        refs = await s.db.approvals.card_refs(approval.id)
        pressed = request.inbound.message
        if pressed is not None and ref_json(pressed) not in refs:
            refs = [*refs, ref_json(pressed)]
        edits = edits_for(refs, decided_card(approval.public_id, content, status, label))
        if decision is Decision.APPROVE:
            await set_identity(
                s,
                content.actor_key,
                status="paired",
                display_name=content.display_name,
                by=request.actor_key,
            )
            tell = Outcome(to=address_of(content.actor_key), text=PAIRED_TEXT)
            reason = Reason.PAIRING_APPROVED
        else:
            tell = Outcome(
                to=address_of(content.actor_key),
                text="Your pairing request was rejected by an admin.",
            )
            reason = Reason.PAIRING_REJECTED
        return Stop(
            reason=reason,
            decision="info",
            outcomes=(*edits, tell),
            detail={**detail, "pairing_id": content.pairing_id, "user": content.actor_key},
        )
