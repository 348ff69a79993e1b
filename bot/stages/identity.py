"""Stage 2: who is this? Known users pass; banned users are refused; unknown users pair.

Users named in `roles` are known without pairing. An unknown user who writes gets
a pairing code (8 characters, valid one hour, stored only as a keyed hash); an
admin approves it with `/pair approve CODE`. The code goes to the user and nowhere
else: not to the admins, not to the audit log, not to a log line.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.approvals import PairingCard, card_destinations, decided_card, edits_for, ref_json
from bot.pipeline import AfterSend, Continue, Request, StageBase, Stop, reply
from bot.services import Services
from bot.types import ApprovalCard, CardKind, InboundKind, MessageRef, Outcome
from policy.approvals import new_public_id, new_token, token_hash
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

    def __init__(self, services: Services) -> None:
        self._s = services

    async def __call__(self, request: Request) -> Continue | Stop:
        """Pass known users with their roles; refuse banned ones; pair unknown ones."""
        s = self._s
        key = request.actor_key
        admins = await s.admins()
        approvers = await s.approvers()
        ident = await s.identity(key)
        if (ident is not None and ident.status == "banned") or await s.person_banned(key):
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
        while (
            sum(ch.isalpha() for ch in code) < 3
        ):  # never mistaken for a number (phone, card) by the redactor
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
        cards, remember = await pairing_cards(s, created.id, actor.key, actor.label, admins, now)
        return Stop(
            reason=Reason.PAIRING_CODE_ISSUED,
            decision="info",
            outcomes=(to_user, *cards),
            detail={"pairing_id": created.id, "cards": len(cards)},
            after_send=remember,
        )


def pairing_hash(pairing_id: int) -> str:
    """The request hash that ties a pairing card to its pairing request."""
    return hashlib.sha256(f"pairing:{pairing_id}".encode()).hexdigest()


async def pairing_cards(
    s: Services, pairing_id: int, user: str, label: str, admins: frozenset[str], now: datetime
) -> tuple[tuple[Outcome, ...], AfterSend]:
    """Approve / Reject cards for the admins, parked like a request (kind `pairing`)."""
    minutes = int(RULES.ttl / timedelta(minutes=1))
    content = PairingCard(
        pairing_id=pairing_id,
        actor_key=user,
        display_name=label,
        title=f"Pairing request #{pairing_id} from {label}",
        lines=(
            f"User: {user}",
            "They got a code: to be sure it is them, ask for it and use /pair approve CODE instead.",
            f"Expires in {minutes} min",
        ),
    )
    approve, deny = new_token(), new_token()
    approval = await s.db.approvals.create(
        public_id=new_public_id(),
        request_hash=pairing_hash(pairing_id),
        payload=content.to_bytes(),
        requester=user,
        tool="",
        risk=0,
        kind="pairing",
        approve_token_hash=token_hash(approve, s.token_key),
        deny_token_hash=token_hash(deny, s.token_key),
        created_at=now,
        expires_at=now + RULES.ttl,
        channel_key="",
        admin_required=True,
    )
    card = ApprovalCard(
        approval_id=approval.public_id,
        kind=CardKind.PAIRING,
        title=content.title,
        lines=content.lines,
        approve_token=approve,
        deny_token=deny,
    )
    targets = card_destinations(
        s.config, running=s.outbox.platforms(), eligible=sorted(admins), chats=False
    )
    cards = tuple(Outcome(to=t, text=content.title, card=card) for t in targets)

    async def remember(refs: Sequence[MessageRef | None]) -> None:
        for ref in refs[1:]:
            if ref is not None:
                await s.db.approvals.add_card_ref(approval.id, ref_json(ref))

    return cards, remember


async def close_pairing_card(
    s: Services, pairing_id: int, status: str, by: str, label: str
) -> tuple[Outcome, ...]:
    """Close the pairing card of a request decided another way (by code); edits for every copy."""
    now = s.clock()
    for approval in await s.db.approvals.pending():
        if approval.kind == "pairing" and approval.request_hash == pairing_hash(pairing_id):
            await s.db.approvals.decide(
                approval.id, to_status=status, by=by, now=now, reason="decided_by_code"
            )
            content = PairingCard.from_bytes(approval.payload)
            card = decided_card(approval.public_id, content, status, label)
            return edits_for(await s.db.approvals.card_refs(approval.id), card)
    return ()


async def set_identity(s: Services, key: str, *, status: str, display_name: str, by: str) -> None:
    """Store `key` as paired (or banned) and drop the cached view, so it counts at once."""
    platform, tenant, user_id = key.split(":", 2)
    await s.db.identities.upsert(
        key,
        platform=platform,
        tenant=tenant,
        user_id=user_id,
        display_name=display_name,
        status=status,
        now=s.clock(),
        by=by,
    )
    s.invalidate()


PAIRED_TEXT = "You are paired with the bot now. Send /help to start."
