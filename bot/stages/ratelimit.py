"""Stage 3: a token bucket per user; a limited user is told once when to retry, not on every message."""

from __future__ import annotations

import math

from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services
from policy.ratelimit import RateRule, take

__all__ = ["RateLimit"]


class RateLimit(StageBase):
    """Takes one token from the user's bucket."""

    name = "rate_limit"
    side_effects = False

    def __init__(self, services: Services) -> None:
        self._s = services
        r = services.config.rate_limits.per_user
        self._rule = RateRule(per_minute=r.rate, burst=r.burst)

    async def __call__(self, request: Request) -> Continue | Stop:
        """Pass while the user has tokens; otherwise stop, saying so once per limited streak."""
        key = request.actor_key
        state = self._s.state
        bucket, verdict = take(state.buckets.get(key), self._rule, self._s.clock())
        state.buckets[key] = bucket
        if verdict.allowed:
            return Continue(request=request)
        detail = {"retry_after": round(verdict.retry_after, 1)}
        if not verdict.notify:
            return Stop(reason=verdict.reason, detail=detail)
        seconds = max(1, math.ceil(verdict.retry_after))
        text = f"Slow down: you are sending too many messages. Retry in {seconds} s."
        return Stop(reason=verdict.reason, outcomes=(reply(request, text),), detail=detail)
