"""Stage 5: the injection scanner judges the request text; config maps its level to an action.

allow: pass. warn: pass, and tell the admins. require_approval: pass, but the
request will need an approver whatever the tool's risk. block: stop. A scanner
failure or an oversized message denies (fail closed); nothing is scanned partially.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services
from bot.types import Outcome
from policy.autonomy import lower
from policy.guardrails import StrikeRule, strike
from policy.injection import ThreatLevel
from policy.reasons import Reason

__all__ = ["Scan"]

log = logging.getLogger(__name__)

_ACTION_REASON = {
    "allow": Reason.INJECTION_ALLOW,
    "warn": Reason.INJECTION_WARN,
    "require_approval": Reason.INJECTION_ESCALATE,
    "block": Reason.INJECTION_BLOCK,
}


class Scan(StageBase):
    """Scores the inbound text for prompt injection."""

    name = "injection"

    def __init__(self, services: Services) -> None:
        self._s = services
        g = services.config.guardrails.injection_strikes
        self._strikes = StrikeRule(window=timedelta(seconds=g.window), threshold=g.threshold)

    async def __call__(self, request: Request) -> Continue | Stop:
        """Apply the configured action for the text's threat level."""
        s = self._s
        text = request.inbound.text
        if len(text) > s.config.injection.max_input:
            return Stop(
                reason=Reason.INPUT_TOO_LARGE,
                outcomes=(
                    reply(
                        request, "That message is too long to check, so it was not run. Send less."
                    ),
                ),
                detail={"length": len(text)},
            )
        try:
            verdict = s.scanner.scan(text)
        except Exception as e:  # noqa: BLE001 - a scanner failure denies
            log.error("injection scanner failed: %s", type(e).__name__)
            return Stop(
                reason=Reason.SCANNER_ERROR,
                outcomes=(reply(request, "The request could not be checked, so it was not run."),),
            )
        level = verdict.level.name.lower()
        action = s.config.injection.actions.get(level, "block")  # type: ignore[call-overload]
        detail: dict[str, object] = {
            "level": verdict.level.name,
            "checks": list(verdict.checks),
            "action": action,
        }
        reason = _ACTION_REASON.get(action, Reason.INJECTION_BLOCK)
        demoted = await self._strike(request) if verdict.level >= ThreatLevel.HIGH else ()
        if demoted:
            detail["demoted"] = True
        if reason is Reason.INJECTION_BLOCK:
            note = await self._warn(
                request, f"blocked a request scored {verdict.level.name}", verdict.checks
            )
            text = "This request was blocked: it looks like an attempt to manipulate the bot."
            return Stop(
                reason=reason, outcomes=(reply(request, text), *note, *demoted), detail=detail
            )
        passed = dataclasses.replace(
            request,
            threat=verdict.level.name,
            escalate=request.escalate or reason is Reason.INJECTION_ESCALATE,
        )
        outcomes: tuple[Outcome, ...] = demoted
        if reason is Reason.INJECTION_WARN:
            what = f"let through a request scored {verdict.level.name}"
            outcomes += await self._warn(request, what, verdict.checks)
        return Continue(request=passed, reason=reason, detail=detail, outcomes=outcomes)

    async def _strike(self, request: Request) -> tuple[Outcome, ...]:
        """Count a HIGH or CRITICAL hit; at the threshold, lower the user's autonomy one level."""
        s = self._s
        key = request.actor_key
        now = s.clock()
        hits, crossed = strike(s.state.injection_hits.get(key, ()), self._strikes, now)
        s.state.injection_hits[key] = hits
        if not crossed:
            return ()
        current = await s.autonomy_for(key, request.inbound.channel.key)
        lowered = lower(current)
        overrides = await s.autonomy_overrides()
        users = {**overrides.get("users", {}), key: lowered.name.lower()}
        await s.db.settings.set("autonomy", {**overrides, "users": users}, by="guardrails", now=now)
        s.invalidate()
        minutes = round(self._strikes.window.total_seconds() / 60)
        return await s.to_admins(
            f"{request.inbound.actor.label} ({key}) hit the injection scanner {self._strikes.threshold} times "
            f"within {minutes} min; their autonomy is now {lowered.name.lower()}. "
            f"Restore it with /autonomy {current.name.lower()} {key}."
        )

    async def _warn(
        self, request: Request, what: str, checks: tuple[str, ...]
    ) -> tuple[Outcome, ...]:
        actor = request.inbound.actor
        text = (
            f"Injection scanner {what} from {actor.label} ({actor.key}); checks: {', '.join(checks) or 'none'}. "
            f"Details are in the audit log (event {request.inbound.event_id})."
        )
        return await self._s.to_admins(text)
