"""Stage 7: autonomy x risk decides whether a permitted request runs now or waits for an approver.

The same decision as the allowlist stage (`bot/decision.py`): the more restrictive
autonomy of the person's identities, the tool's risk and the injection scanner say
whether it needs an approver; who may approve is everyone with the role except the
requester's person (critical tools: another admin). A parked request is stored
encrypted and bound to a hash of its exact content; its card shows that content in
full (`bot/approvals.py`) and goes to the approvers, never to the requester's other
identities. When nobody may approve it, or nobody who may can be reached, it is denied
at once with that reason; a card that could not be shown whole is refused too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.approvals import (
    Parked,
    card_destinations,
    card_fits,
    expiry_line,
    ref_json,
    request_lines,
)
from bot.decision import ask_for, decide_now
from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services
from bot.types import Address, ApprovalCard, CardKind, ChannelKind, MessageRef, Outcome
from policy.approvals import new_public_id, new_token, token_hash
from policy.decision import Verdict
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
        """Continue to execution, or stop with the request parked (or refused, saying why)."""
        s = self._s
        verdict = await decide_now(s, ask_for(s, request), fresh=False)
        autonomy = verdict.autonomy.name.lower() if verdict.autonomy is not None else "-"
        risk = verdict.risk.name.lower() if verdict.risk is not None else "-"
        detail = {"autonomy": autonomy, "risk": risk}
        if verdict.action == "run":
            return Continue(request=request, reason=Reason.RUN_NOW, detail=detail)
        if verdict.action == "deny":
            failed = verdict.blocking or verdict.check("approvers")
            text = f"{request.tool} was not run: {failed.why}."
            if failed.name == "approvers":
                text = f"{request.tool} needs approval, but {failed.why}; so it was not run."
            return Stop(
                reason=failed.reason,
                outcomes=(reply(request, text),),
                detail={**detail, "check": failed.name, "why": failed.why},
            )
        targets = card_destinations(
            s.config, running=s.outbox.platforms(), eligible=verdict.approvers
        )
        if not targets:  # the decision checked reachability; the platforms may have changed since
            text = (
                f"{request.tool} needs approval, but no approver can be reached, so it was not run."
            )
            return Stop(
                reason=Reason.APPROVERS_UNREACHABLE, outcomes=(reply(request, text),), detail=detail
            )
        return await self._park(request, verdict, targets, detail)

    async def _park(
        self,
        request: Request,
        verdict: Verdict,
        targets: Sequence[Address],
        detail: dict[str, str],
    ) -> Stop:
        s = self._s
        now = s.clock()
        timeout = s.config.approvals.timeout
        actor = request.inbound.actor
        risk = verdict.risk.name.lower() if verdict.risk is not None else "unknown"
        admin_required = verdict.admin_required
        title = f"Approval needed: {request.tool} ({risk} risk)"
        lines = request_lines(
            label=actor.label,
            person=verdict.person.label(),
            tool=request.tool,
            args=request.args,
            argv=request.argv,
            verdict=verdict,
            escalate=request.escalate,
            threat=request.threat,
        )
        expires_at = now + timedelta(seconds=timeout)
        if not card_fits(title, (*lines, expiry_line(expires_at, timeout))):
            text = (
                f"{request.tool} needs approval, but the request is too long to show on an approval "
                "card in full, so it was not run. Use shorter arguments."
            )
            return Stop(
                reason=Reason.CARD_TOO_LONG, outcomes=(reply(request, text),), detail=detail
            )
        here = reply(request, "")
        channel = request.inbound.channel
        parked = Parked(
            tool=request.tool,
            args=dict(request.args),
            argv=request.argv,
            requester=actor.key,
            requester_label=actor.label,
            channel=channel.key,
            reply=here.to,
            threat=request.threat,
            created_at=now,
            title=title,
            lines=lines,
            group_channel=channel.key if channel.kind is ChannelKind.GROUP else None,
            escalate=request.escalate,
        )
        approve, deny = new_token(), new_token()
        public_id = new_public_id()
        approval = await s.db.approvals.create(
            public_id=public_id,
            request_hash=parked.request_hash(),
            payload=parked.to_bytes(),
            requester=actor.key,
            tool=request.tool,
            risk=int(verdict.risk) if verdict.risk is not None else 0,
            kind="run",
            approve_token_hash=token_hash(approve, s.token_key),
            deny_token_hash=token_hash(deny, s.token_key),
            created_at=now,
            expires_at=expires_at,
            channel_key=channel.key,
            admin_required=admin_required,
        )
        card = ApprovalCard(
            approval_id=public_id,
            kind=CardKind.RUN,
            title=title,
            lines=(*lines, expiry_line(expires_at, timeout)),
            approve_token=approve,
            deny_token=deny,
        )
        cards = tuple(Outcome(to=t, text=title, card=card) for t in targets)
        told = reply(
            request,
            f"{request.tool} needs approval ({risk} risk). I asked the approvers; "
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
