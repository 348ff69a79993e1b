"""Stage 6: the fail-closed allowlist (user > channel > group > global, plus runtime grants)."""

from __future__ import annotations

from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services
from bot.types import ChannelKind

__all__ = ["Permit"]


class Permit(StageBase):
    """Allows the tool only where a rule says so; the audit row names the rule."""

    name = "permission"

    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, request: Request) -> Continue | Stop:
        """Pass when the most specific applicable rule allows the tool (for this person)."""
        s = self._s
        channel = request.inbound.channel
        channel_key = channel.key if channel.kind is ChannelKind.GROUP else None
        decision = await s.permission(
            user=request.actor_key, tool=request.tool, channel=channel_key
        )
        detail = {"rule": decision.rule}
        if decision.allowed:
            return Continue(request=request, reason=decision.reason, detail=detail)
        mine = await s.tools_for(user=request.actor_key, channel=channel_key)
        listing = ", ".join(mine) if mine else "none"
        text = f"You may not use {request.tool} here. Tools you may use: {listing}."
        return Stop(reason=decision.reason, outcomes=(reply(request, text),), detail=detail)
