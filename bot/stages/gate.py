"""Stage 7: autonomy x risk decides whether a permitted request runs now or waits for an approver.

A parked request is stored encrypted and bound to a hash of its exact content;
its card goes to the approvers (see `bot/approvals.py`). When nobody could
approve it, or no approver can be reached, it is denied at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.approvals import Parked, card_destinations, ref_json
from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services
from bot.types import ApprovalCard, CardKind, MessageRef, Outcome
from policy.approvals import can_be_approved, new_public_id, new_token, token_hash
from policy.autonomy import Risk, gate
from policy.reasons import Reason

__all__ = ["Gate"]


def _minutes(seconds: float) -> str:
    return f"{round(seconds / 60)} min" if seconds >= 90 else f"{round(seconds)} s"


class Gate(StageBase):
    """Runs now, or parks the request and posts an approval card."""

    name = "approval_gate"

    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, request: Request) -> Continue | Stop:
        """Continue to execution, or stop with the request parked."""
        s = self._s
        tool = s.tool(request.tool)
        if tool is None:
            return Stop(
                reason=Reason.UNKNOWN_TOOL,
                outcomes=(reply(request, "That tool no longer exists."),),
            )
        risk = Risk.parse(tool.risk)
        inbound = request.inbound
        autonomy = await s.autonomy_for(request.actor_key, inbound.channel.key)
        decision = gate(autonomy=autonomy, risk=risk, escalate=request.escalate)
        detail = {"autonomy": autonomy.name.lower(), "risk": risk.name.lower()}
        if not decision.needs_approval:
            return Continue(request=request, reason=decision.reason, detail=detail)
        admins, approvers = await s.admins(), await s.approvers()
        allow_self = s.config.approvals.allow_self_approval
        possible = can_be_approved(
            requester=request.actor_key,
            approvers=approvers,
            admins=admins,
            admin_required=decision.admin_required,
            allow_self_approval=allow_self,
        )
        eligible = sorted(
            p
            for p in (admins if decision.admin_required else admins | approvers)
            if (allow_self and not decision.admin_required) or p != request.actor_key
        )
        targets = card_destinations(s.config, running=s.outbox.platforms(), eligible=eligible)
        if possible is not Reason.OK or not targets:
            text = f"{tool.name} needs approval, but no approver can be reached, so it was not run."
            return Stop(reason=Reason.NO_APPROVERS, outcomes=(reply(request, text),), detail=detail)
        return await self._park(request, risk, decision.admin_required, targets, detail)

    async def _park(
        self,
        request: Request,
        risk: Risk,
        admin_required: bool,
        targets: Sequence[object],
        detail: dict[str, str],
    ) -> Stop:
        s = self._s
        now = s.clock()
        timeout = s.config.approvals.timeout
        actor = request.inbound.actor
        args_text = " ".join(f"{k}={v}" for k, v in request.args.items()) or "(none)"
        title = f"Approval needed: {request.tool} ({risk.name.lower()} risk)"
        lines = [
            f"Requested by {actor.label} ({actor.key})",
            f"Arguments: {args_text}",
        ]
        if request.escalate:
            lines.append(f"Flagged by the injection scanner ({request.threat})")
        if admin_required:
            lines.append("An admin must approve this request")
        lines.append(f"Expires in {_minutes(timeout)}")
        here = reply(request, "")
        parked = Parked(
            tool=request.tool,
            args=dict(request.args),
            argv=request.argv,
            requester=actor.key,
            requester_label=actor.label,
            channel=request.inbound.channel.key,
            reply=here.to,
            threat=request.threat,
            created_at=now,
            title=title,
            lines=tuple(lines),
        )
        approve, deny = new_token(), new_token()
        public_id = new_public_id()
        approval = await s.db.approvals.create(
            public_id=public_id,
            request_hash=parked.request_hash(),
            payload=parked.to_bytes(),
            requester=actor.key,
            tool=request.tool,
            risk=int(risk),
            kind="run",
            approve_token_hash=token_hash(approve, s.token_key),
            deny_token_hash=token_hash(deny, s.token_key),
            created_at=now,
            expires_at=now + timedelta(seconds=timeout),
            channel_key=request.inbound.channel.key,
            admin_required=admin_required,
        )
        card = ApprovalCard(
            approval_id=public_id,
            kind=CardKind.RUN,
            title=title,
            lines=tuple(lines),
            approve_token=approve,
            deny_token=deny,
        )
        cards = tuple(Outcome(to=t, text=title, card=card) for t in targets)  # type: ignore[arg-type]
        told = reply(
            request,
            f"{request.tool} needs approval ({risk.name.lower()} risk). I asked the approvers; "
            f"request {public_id} expires in {_minutes(timeout)}.",
        )

        async def remember(refs: Sequence[MessageRef | None]) -> None:
            for ref in refs[1:]:
                if ref is not None:
                    await s.db.approvals.add_card_ref(approval.id, ref_json(ref))

        return Stop(
            reason=Reason.APPROVAL_REQUIRED,
            decision="info",
            outcomes=(told, *cards),
            detail={**detail, "approval": public_id, "cards": len(cards)},
            after_send=remember,
        )
