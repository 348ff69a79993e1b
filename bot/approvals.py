"""Parking requests for approval, routing their cards, and rendering decided cards.

A parked request lives in storage with its content encrypted; the card's two
buttons carry random single-use tokens of which storage keeps only keyed hashes.
Cards go to the approvals chat of each running platform that has one configured
(`platforms.slack.approvals_channel`, `platforms.telegram.approvals_chat`), so a
request from any platform can be decided on any; with none configured, each
eligible approver gets the card as a direct message on their own platform (never
to an identity of the requester's person).

A run card shows the exact request (`request_lines`): the requester as a person
(every linked identity), the tool and its risk, every argument as it will be
passed (quoted, invisible characters spelled out; never PII-redacted: the outbox
hides only configured secret values on cards, and a request holding one is
refused before it is parked), the command line, and why it needs approval. A card
that could not show all of that in full is refused (`card_fits`), never clipped.
A decided card drops its expiry line and says how it ended.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.types import Address, ApprovalCard, CardKind, CardState, MessageRef, Outcome
from policy.approvals import request_hash
from policy.decision import Verdict

__all__ = [
    "MAX_CARD_CHARS",
    "MAX_CARD_LINES",
    "PairingCard",
    "Parked",
    "card_destinations",
    "card_fits",
    "decided_card",
    "expiry_line",
    "parse_content",
    "parse_ref",
    "ref_json",
    "request_lines",
    "shown",
]

MAX_CARD_LINES = 40
MAX_CARD_CHARS = 2500
"""A run card longer than this is refused rather than clipped: every platform shows it whole."""


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
    group_channel: str | None = None  # the channel for the allowlist; None in a direct message
    escalate: bool = False  # the injection scanner asked for an approver

    def to_bytes(self) -> bytes:
        """Serialise for encryption."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Parked:
        """The inverse of `to_bytes`."""
        data: dict[str, Any] = json.loads(blob)
        reply = Address(**data["reply"])
        # requests parked before `group_channel` was stored: a reply in a group is private
        group = (
            data["group_channel"]
            if "group_channel" in data
            else (data["channel"] if reply.private else None)
        )
        return cls(
            tool=data["tool"],
            args=data["args"],
            argv=tuple(data["argv"]),
            requester=data["requester"],
            requester_label=data["requester_label"],
            channel=data["channel"],
            reply=reply,
            threat=data["threat"],
            created_at=datetime.fromisoformat(data["created_at"]),
            title=data["title"],
            lines=tuple(data["lines"]),
            group_channel=group,
            escalate=bool(data.get("escalate", False)),
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


_SPELLED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs", "Mn", "Me"})


def _spell(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shown(value: str | int) -> str:
    """A value exactly as passed, quoted, with every invisible or look-alike character made visible.

    Quotes and backslashes are escaped; control, format, space-like and combining characters
    other than the plain space are spelled `\\uXXXX`; a value with other non-ASCII characters
    is followed by its all-ASCII spelling, so `аpi` (Cyrillic а) cannot pass for `api`.
    """
    if isinstance(value, int):
        return str(value)
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch != " " and unicodedata.category(ch) in _SPELLED:
            out.append(_spell(ch))
        else:
            out.append(ch)
    text = '"' + "".join(out) + '"'
    if not text.isascii():
        ascii_form = "".join(ch if ch.isascii() else _spell(ch) for ch in text)
        text += f" (spelled: {ascii_form})"
    return text


def request_lines(
    *,
    label: str,
    person: str,
    tool: str,
    args: Mapping[str, str | int],
    argv: Sequence[str],
    verdict: Verdict,
    escalate: bool = False,
    threat: str = "",
) -> tuple[str, ...]:
    """The lines of a run card: who (as a person), what exactly, how risky, and why it needs approval.

    The display name is quoted like an argument: it is chosen by the requester and only shown.
    """
    risk = verdict.risk.name.lower() if verdict.risk is not None else "unknown"
    lines = [f"Requested by {shown(label)}: {person}", f"Tool: {tool} ({risk} risk)"]
    if args:
        lines.append("Arguments, exactly as passed:")
        lines.extend(f"  {name} = {shown(value)}" for name, value in args.items())
    else:
        lines.append("Arguments: none")
    lines.append("Command line: " + (" ".join(shown(a) for a in argv) or "(none)"))
    approval = verdict.check("approval")
    lines.append(f"Needs approval because: {approval.why}")
    if escalate and threat:
        lines.append(f"Flagged by the injection scanner ({threat})")
    if verdict.admin_required:
        lines.append("Only an admin other than the requester may approve it")
    return tuple(lines)


def card_fits(title: str, lines: Sequence[str]) -> bool:
    """Whether a card can be shown whole on every platform (see MAX_CARD_CHARS)."""
    return (
        len(lines) < MAX_CARD_LINES
        and len(title) + sum(len(x) + 1 for x in lines) <= MAX_CARD_CHARS
    )


def expiry_line(expires_at: datetime, seconds: float) -> str:
    """The pending card's expiry line (decided cards drop it)."""
    left = f"{round(seconds / 60)} min" if seconds >= 90 else f"{round(seconds)} s"
    return f"Expires at {expires_at:%H:%M} UTC (in {left}) if nobody decides"


_STATES = {
    "approved": CardState.APPROVED,
    "executed": CardState.APPROVED,
    "denied": CardState.DENIED,
    "expired": CardState.EXPIRED,
    "cancelled": CardState.CANCELLED,
}


def decided_card(
    public_id: str, parked: Parked | PairingCard, status: str, who: str, note: str = ""
) -> ApprovalCard:
    """The card as it reads once decided: no buttons, no expiry; each adapter shows the state and who decided.

    `note` is one more line saying how it ended when that is not plain (why it was withdrawn).
    """
    lines = tuple(line for line in parked.lines if not line.startswith("Expires "))
    return ApprovalCard(
        approval_id=public_id,
        kind=CardKind.PAIRING if isinstance(parked, PairingCard) else CardKind.RUN,
        title=parked.title,
        lines=(*lines, note) if note else lines,
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
