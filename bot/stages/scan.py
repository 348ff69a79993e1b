"""Stage 5: the injection scanner judges the request text; config maps its level to an action.

allow: pass. warn: pass, and tell the admins. require_approval: pass, but the
request will need an approver whatever the tool's risk. block: stop. A scanner
failure or an oversized message denies (fail closed); nothing is scanned partially.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services, address_of
from bot.types import Outcome
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
    side_effects = False

    def __init__(self, services: Services) -> None:
        self._s = services

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
        detail = {"level": verdict.level.name, "checks": list(verdict.checks), "action": action}
        reason = _ACTION_REASON.get(action, Reason.INJECTION_BLOCK)
        if reason is Reason.INJECTION_BLOCK:
            note = self._warn(
                request, f"blocked a request scored {verdict.level.name}", verdict.checks
            )
            text = "This request was blocked: it looks like an attempt to manipulate the bot."
            return Stop(reason=reason, outcomes=(reply(request, text), *note), detail=detail)
        passed = dataclasses.replace(
            request,
            threat=verdict.level.name,
            escalate=request.escalate or reason is Reason.INJECTION_ESCALATE,
        )
        outcomes: tuple[Outcome, ...] = ()
        if reason is Reason.INJECTION_WARN:
            outcomes = self._warn(
                request, f"let through a request scored {verdict.level.name}", verdict.checks
            )
        return Continue(request=passed, reason=reason, detail=detail, outcomes=outcomes)

    def _warn(self, request: Request, what: str, checks: tuple[str, ...]) -> tuple[Outcome, ...]:
        actor = request.inbound.actor
        text = (
            f"Injection scanner {what} from {actor.label} ({actor.key}); "
            f"checks: {', '.join(checks) or 'none'}. Details are in the audit log (event {request.inbound.event_id})."
        )
        return tuple(
            Outcome(to=address_of(a), text=text) for a in sorted(self._s.config.roles.admins)
        )
