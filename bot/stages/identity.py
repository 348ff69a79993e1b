"""Stage 2: who is this? Known users pass; banned users are refused; unknown users pair.

Users named in `roles` are known without pairing. An unknown user who writes gets
a pairing code (8 characters, valid one hour, stored only as a keyed hash); an
admin approves it with `/pair approve CODE`. The code goes to the user and nowhere
else: not to the admins, not to the audit log, not to a log line.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services, address_of
from bot.types import InboundKind, Outcome
from policy.pairing import PairingRules, hash_code, may_issue, new_code
from policy.reasons import Reason

__all__ = ["Identify"]

RULES = PairingRules()


def format_code(code: str) -> str:
    """`ABCD2345` -> `ABCD-2345`, easier to read aloud."""
    return f"{code[:4]}-{code[4:]}"


class Identify(StageBase):
    """Resolves the actor's standing and starts pairing for strangers."""

    name = "identity"
    side_effects = False

    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, request: Request) -> Continue | Stop:
        """Pass known users with their roles; refuse banned ones; pair unknown ones."""
        s = self._s
        key = request.actor_key
        admins = await s.admins()
        approvers = await s.approvers()
        ident = await s.db.identities.get(key)
        if ident is not None and ident.status == "banned":
            if key in s.state.banned_told:
                return Stop(reason=Reason.BANNED)
            s.state.banned_told.add(key)
            return Stop(
                reason=Reason.BANNED,
                outcomes=(reply(request, "You are not allowed to use this bot."),),
            )
        is_admin = key in admins
        is_approver = is_admin or key in approvers
        lock = await s.lockdown()
        if lock is not None and not is_admin:
            return Stop(
                reason=Reason.LOCKDOWN,
                outcomes=(reply(request, "The bot is locked down by an admin; try again later."),),
            )
        if is_admin or is_approver:
            passed = dataclasses.replace(request, is_admin=is_admin, is_approver=is_approver)
            return Continue(request=passed, reason=Reason.ROLE_USER)
        if ident is not None and ident.status == "paired":
            return Continue(request=request, reason=Reason.KNOWN_USER)
        if request.inbound.kind is InboundKind.BUTTON:
            return Stop(
                reason=Reason.UNKNOWN_USER,
                outcomes=(
                    reply(request, "You are not paired with this bot, so you cannot decide this."),
                ),
            )
        return await self._pair(request, admins)

    async def _pair(self, request: Request, admins: frozenset[str]) -> Stop:
        s = self._s
        now = s.clock()
        actor = request.inbound.actor
        latest = await s.db.pairings.latest_for_actor(actor.key)
        live = latest is not None and latest.status == "pending" and latest.expires_at > now
        pending = await s.db.pairings.pending_for_platform(actor.platform, now)
        verdict = may_issue(
            rules=RULES,
            now=now,
            pending_on_platform=len(pending),
            last_issued_to_sender=latest.created_at if latest is not None else None,
            sender_has_live_code=live,
        )
        if verdict is Reason.PAIRING_CODE_REISSUE_TOO_SOON:
            text = (
                "You are not paired with this bot yet. Your pairing code was sent a moment ago: "
                "give it to an admin, who approves it with /pair approve CODE."
                if live
                else "You are not paired with this bot. Try again in a few minutes for a new pairing code."
            )
            return Stop(reason=verdict, outcomes=(reply(request, text),))
        if verdict is Reason.PAIRING_TOO_MANY_PENDING:
            text = "You are not paired with this bot, and too many pairing requests are waiting. Try again later."
            return Stop(reason=verdict, outcomes=(reply(request, text),))
        if live and latest is not None:
            await s.db.pairings.decide(latest.id, status="expired", by="reissue", now=now)
        code = new_code()
        created = await s.db.pairings.create(
            actor_key=actor.key,
            platform=actor.platform,
            display_name=actor.display_name or actor.user_id,
            code_hash=hash_code(code, s.pepper),
            now=now,
            expires_at=now + RULES.ttl,
        )
        minutes = int(RULES.ttl / timedelta(minutes=1))
        to_user = reply(
            request,
            f"You are not paired with this bot yet. Your pairing code is {format_code(code)} "
            f"(valid {minutes} minutes). Give it to an admin, who approves it with "
            "/pair approve CODE.",
        )
        note = (
            f"Pairing request #{created.id} from {actor.label} ({actor.key}). "
            "Ask them for their code, then /pair approve CODE (or /pair reject CODE)."
        )
        to_admins = tuple(Outcome(to=address_of(a), text=note) for a in sorted(admins))
        return Stop(
            reason=Reason.PAIRING_CODE_ISSUED,
            decision="info",
            outcomes=(to_user, *to_admins),
            detail={"pairing_id": created.id},
        )
