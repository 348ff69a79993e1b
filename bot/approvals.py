"""Parking requests for approval, routing their cards, and rendering decided cards.

A parked request lives in storage with its content encrypted; the card's two
buttons carry random single-use tokens of which storage keeps only keyed hashes.
Cards go to the approvals chat of each running platform that has one configured
(`platforms.slack.approvals_channel`, `platforms.telegram.approvals_chat`), so a
request from any platform can be decided on any; with none configured, each
eligible approver gets the card as a direct message on their own platform.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.types import Address, ApprovalCard, CardKind, CardState, MessageRef, Outcome
from policy.approvals import request_hash

__all__ = [
    "PairingCard",
    "Parked",
    "card_destinations",
    "decided_card",
    "parse_content",
    "parse_ref",
    "ref_json",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Parked:
    """The content of a parked request (stored encrypted)."""

    tool: str
    args: Mapping[str, str | int]
    argv: tuple[str, ...]
    requester: str
    requester_label: str
    channel: str
    reply: Address
    threat: str
    created_at: datetime
    title: str
    lines: tuple[str, ...]

    def to_bytes(self) -> bytes:
        """Serialise for encryption."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Parked:
        """The inverse of `to_bytes`."""
        data: dict[str, Any] = json.loads(blob)
        return cls(
            tool=data["tool"],
            args=data["args"],
            argv=tuple(data["argv"]),
            requester=data["requester"],
            requester_label=data["requester_label"],
            channel=data["channel"],
            reply=Address(**data["reply"]),
            threat=data["threat"],
            created_at=datetime.fromisoformat(data["created_at"]),
            title=data["title"],
            lines=tuple(data["lines"]),
        )

    def request_hash(self) -> str:
        """The hash that binds the approval to exactly this request."""
        return request_hash(
            requester=self.requester,
            channel=self.channel,
            tool=self.tool,
            argv=self.argv,
            created_at=self.created_at,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingCard:
    """The content of a pairing card (stored encrypted, as an approval of kind `pairing`)."""

    pairing_id: int
    actor_key: str
    display_name: str
    title: str
    lines: tuple[str, ...]

    def to_bytes(self) -> bytes:
        """Serialise for encryption."""
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> PairingCard:
        """The inverse of `to_bytes`."""
        data: dict[str, Any] = json.loads(blob)
        return cls(
            pairing_id=int(data["pairing_id"]),
            actor_key=data["actor_key"],
            display_name=data["display_name"],
            title=data["title"],
            lines=tuple(data["lines"]),
        )


def card_destinations(
    config: Config, *, running: frozenset[str], eligible: Sequence[str], chats: bool = True
) -> list[Address]:
    """Where an approval card goes, given the platforms that are running.

    With `chats` (run requests), the configured approvals chats; otherwise (pairing
    cards, for admins only) and for platforms without one, a DM to each eligible person.
    """
    out: list[Address] = []
    slack_channel = config.platforms.slack.approvals_channel if chats else None
    tg_chat = config.platforms.telegram.approvals_chat if chats else None
    if "slack" in running and slack_channel:
        out.append(Address(platform="slack", tenant="", channel_id=slack_channel))
    if "telegram" in running and tg_chat:
        out.append(Address(platform="telegram", tenant="telegram", channel_id=tg_chat))
    covered = {a.platform for a in out}
    for key in sorted(eligible):
        platform, tenant, user_id = key.split(":", 2)
        if platform in running and platform not in covered:
            out.append(Address(platform=platform, tenant=tenant, user_id=user_id))
    return out


_STATES = {
    "approved": CardState.APPROVED,
    "executed": CardState.APPROVED,
    "denied": CardState.DENIED,
    "expired": CardState.EXPIRED,
    "cancelled": CardState.CANCELLED,
}


def decided_card(
    public_id: str, parked: Parked | PairingCard, status: str, who: str
) -> ApprovalCard:
    """The card as it reads once decided: no buttons; each adapter shows the state and who decided."""
    return ApprovalCard(
        approval_id=public_id,
        kind=CardKind.PAIRING if isinstance(parked, PairingCard) else CardKind.RUN,
        title=parked.title,
        lines=parked.lines,
        approve_token="",
        deny_token="",
        state=_STATES.get(status, CardState.CANCELLED),
        decided_by=who,
    )


def edits_for(refs: Sequence[str], card: ApprovalCard) -> tuple[Outcome, ...]:
    """Outcomes that edit every posted copy of a card."""
    out = []
    for raw in refs:
        ref = parse_ref(raw)
        if ref is None:
            continue
        to = Address(platform=ref.platform, tenant=ref.tenant, channel_id=ref.channel_id)
        out.append(Outcome(to=to, text=card.title, card=card, edit=ref))
    return tuple(out)


def ref_json(ref: MessageRef) -> str:
    """A message reference as stored beside its approval."""
    return json.dumps(asdict(ref), separators=(",", ":"), sort_keys=True)


def parse_ref(raw: str) -> MessageRef | None:
    """The inverse of `ref_json`; None for anything malformed."""
    try:
        data = json.loads(raw)
        return MessageRef(**data)
    except (ValueError, TypeError):
        return None


def parse_content(kind: str, blob: bytes) -> Parked | PairingCard:
    """The stored content of an approval of `kind` ("run" or "pairing")."""
    return PairingCard.from_bytes(blob) if kind == "pairing" else Parked.from_bytes(blob)
