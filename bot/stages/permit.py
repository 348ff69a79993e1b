"""Stage 6: may this person run this tool here, with these arguments, now? (`bot/decision.py`)

The one decision (`policy/decision.py`) with the state as it is now (through the
process's cache, which every admin command refreshes at once): the requester paired
and not banned (for the whole person), no lockdown, the fail-closed
allowlist (user > channel > group > global, plus runtime grants; the most restrictive
of the person's identities wins), the arguments, no configured secret value in them,
and the person's budget. The audit row names the rule and the failed check.
"""

from __future__ import annotations

from bot.decision import ask_for, decide_now
from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services
from bot.types import ChannelKind
from policy.reasons import Reason

__all__ = ["Permit"]


class Permit(StageBase):
    """Allows the request only when every standing check passes; the audit row names the rule."""

    name = "permission"

    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, request: Request) -> Continue | Stop:
        """Pass when the decision has no failed standing check; otherwise say which and why."""
        s = self._s
        verdict = await decide_now(s, ask_for(s, request), reach=False, fresh=False)
        detail = {"rule": verdict.rule}
        failed = verdict.blocking
        if failed is None:
            return Continue(
                request=request, reason=verdict.check("allowlist").reason, detail=detail
            )
        detail = {**detail, "check": failed.name, "why": failed.why}
        if failed.name == "allowlist":
            channel = request.inbound.channel
            mine = await s.tools_for(
                user=request.actor_key,
                channel=channel.key if channel.kind is ChannelKind.GROUP else None,
            )
            listing = ", ".join(mine) if mine else "none"
            text = f"You may not use {request.tool} here. Tools you may use: {listing}."
        elif failed.reason is Reason.SECRET_IN_ARGUMENTS:
            text = (
                f"{request.tool} was not run: an argument holds the value of a configured secret "
                "(secrets are never passed as arguments or shown on approval cards)."
            )
        else:
            text = f"{request.tool} was not run: {failed.why}."
        return Stop(reason=failed.reason, outcomes=(reply(request, text),), detail=detail)
