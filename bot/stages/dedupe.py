"""Stage 1: drop an event whose id was seen before (platform retries, redeliveries)."""

from __future__ import annotations

from bot.pipeline import Continue, Request, StageBase, Stop
from bot.services import Services
from policy.reasons import Reason

__all__ = ["Dedupe"]


class Dedupe(StageBase):
    """Claims the event id in storage; only the first delivery passes."""

    name = "dedupe"

    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, request: Request) -> Continue | Stop:
        """Pass the first delivery of an event, drop the rest silently."""
        claimed = await self._s.db.idempotency.claim(request.inbound.event_id, self._s.clock())
        if not claimed:
            return Stop(reason=Reason.DUPLICATE_EVENT, decision="info")
        return Continue(request=request)
