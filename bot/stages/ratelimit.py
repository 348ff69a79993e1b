"""Stage 3: a token bucket per user; a limited user is told once when to retry, not on every message.

The same stage watches each user's usual rate: a minute far above it alerts the
admins (once an hour per user). Admins can give a user their own rate with /limits.
"""

from __future__ import annotations

import math

from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services
from bot.types import Outcome
from policy.guardrails import Usual, UsualRule, usual_record
from policy.ratelimit import RateRule, take

__all__ = ["RateLimit"]


class RateLimit(StageBase):
    """Takes one token from the user's bucket."""

    name = "rate_limit"

    def __init__(self, services: Services) -> None:
        self._s = services
        r = services.config.rate_limits.per_user
        self._rule = RateRule(per_minute=r.rate, burst=r.burst)
        a = services.config.guardrails.rate_anomaly
        self._usual = UsualRule(factor=a.factor, floor=a.floor)

    async def __call__(self, request: Request) -> Continue | Stop:
        """Pass while the user has tokens; otherwise stop, saying so once per limited streak."""
        s = self._s
        key = request.actor_key
        now = s.clock()
        rule = self._rule
        mine = await s.user_limits(key)
        if "rate" in mine or "burst" in mine:
            rule = RateRule(
                per_minute=mine.get("rate", rule.per_minute),
                burst=int(mine.get("burst", rule.burst)),
            )
        usual, unusual = usual_record(s.state.usual.get(key, Usual()), self._usual, now)
        s.state.usual[key] = usual
        alerts: tuple[Outcome, ...] = ()
        if unusual:
            alerts = await s.to_admins(
                f"Unusual activity: {request.inbound.actor.label} ({key}) sent {usual.count} messages this minute, "
                f"against a usual {usual.mean:.1f} a minute."
            )
        bucket, verdict = take(s.state.buckets.get(key), rule, now)
        s.state.buckets[key] = bucket
        if verdict.allowed:
            return Continue(
                request=request, outcomes=alerts, detail={"anomaly": True} if unusual else {}
            )
        detail = {"retry_after": round(verdict.retry_after, 1)}
        if not verdict.notify:
            return Stop(reason=verdict.reason, detail=detail, outcomes=alerts)
        seconds = max(1, math.ceil(verdict.retry_after))
        text = f"Slow down: you are sending too many messages. Retry in {seconds} s."
        return Stop(reason=verdict.reason, outcomes=(reply(request, text), *alerts), detail=detail)
