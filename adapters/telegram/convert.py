"""Pure conversions between python-telegram-bot objects and the bot's neutral types.

Inbound: `update_to_inbound` turns an `Update` into an `Inbound`, `None` (not for us:
edits, other bots, group chatter that does not address the bot) or `Refused` (a button
press whose data is not one of ours; the adapter answers it and reports it).

Outbound: `render_outcome` turns an `Outcome` into the messages to post (`TextCall`,
`DocumentCall`), HTML-escaped and split under Telegram's limit on line boundaries;
`render_edit` gives the single message an edit writes; `targets` resolves an `Address`
to the chat ids to try, in order.

No I/O here: the adapter executes the calls.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from telegram import InlineKeyboardMarkup, Message, MessageEntity, Update, User
from telegram.constants import ChatType

from adapters.telegram.cards import parse_callback_data, render_card
from bot.types import (
    Actor,
    Address,
    Channel,
    ChannelKind,
    Inbound,
    InboundKind,
    MessageRef,
    Outcome,
)

__all__ = [
    "CHUNK_LIMIT",
    "DOCUMENT_THRESHOLD",
    "PLATFORM",
    "TENANT",
    "BotIdentity",
    "DocumentCall",
    "Refused",
    "TextCall",
    "render_edit",
    "render_outcome",
    "split_escaped",
    "targets",
    "update_to_inbound",
]

PLATFORM = "telegram"
TENANT = "telegram"
CHUNK_LIMIT = 4000  # Telegram allows 4096 characters; leave room, and count UTF-16 units
DOCUMENT_THRESHOLD = 3 * CHUNK_LIMIT  # longer tool output goes out as a file
_PRE_OPEN, _PRE_CLOSE = "<pre>", "</pre>"


@dataclass(frozen=True, slots=True, kw_only=True)
class BotIdentity:
    """Who the bot is (from getMe): needed to tell whether a group message addresses it."""

    id: int
    username: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """An update that must not reach the bot; `details` hold no secrets and no raw text."""

    event: str
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TextCall:
    """One sendMessage / editMessageText: HTML text and an optional inline keyboard."""

    text: str
    reply_markup: InlineKeyboardMarkup | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentCall:
    """One sendDocument with the bytes of a long tool output."""

    file_name: str
    data: bytes


# ---- inbound -------------------------------------------------------------------------------


def _actor(user: User) -> Actor:
    return Actor(
        platform=PLATFORM,
        tenant=TENANT,
        user_id=str(user.id),
        display_name=user.username or user.first_name,
    )


def _channel(chat_id: int, chat_type: str) -> Channel:
    kind = ChannelKind.DM if chat_type == ChatType.PRIVATE else ChannelKind.GROUP
    return Channel(platform=PLATFORM, tenant=TENANT, channel_id=str(chat_id), kind=kind)


def _addressing(message: Message, me: BotIdentity) -> tuple[bool, bool]:
    """(addresses this bot, is a command meant for another bot)."""
    name = "@" + me.username.lower()
    addressed = False
    wanted: list[str | None] = [
        MessageEntity.BOT_COMMAND,
        MessageEntity.MENTION,
        MessageEntity.TEXT_MENTION,
    ]
    for entity, text in message.parse_entities(wanted).items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            target = text.partition("@")[2].lower()
            if target and "@" + target != name:
                return False, True
            addressed = True
        elif entity.type == MessageEntity.MENTION:
            addressed = addressed or text.lower() == name
        elif entity.type == MessageEntity.TEXT_MENTION:
            addressed = addressed or (entity.user is not None and entity.user.id == me.id)
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == me.id:
        addressed = True
    return addressed, False


def strip_bot_name(text: str, username: str) -> str:
    """Drop `@username` from a leading `/command@username` and from mentions; tidy spaces."""
    name = re.escape(username)
    text = re.sub(rf"^(/[A-Za-z0-9_]+)@{name}(?![A-Za-z0-9_])", r"\1", text, flags=re.I)
    text = re.sub(rf"(?<![\w@/])@{name}(?![A-Za-z0-9_])", "", text, flags=re.I)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip()


def update_to_inbound(
    update: Update, *, me: BotIdentity, now: datetime
) -> Inbound | Refused | None:
    """The neutral event for an update, None when it is not for the bot, or Refused."""
    event_id = f"{PLATFORM}:update:{update.update_id}"
    query = update.callback_query
    if query is not None:
        token = parse_callback_data(query.data)
        card = query.message
        if token is None or card is None:
            return Refused(
                event="telegram_callback_malformed",
                details={
                    "update_id": update.update_id,
                    "user_id": str(query.from_user.id),
                    "chat_id": str(card.chat.id) if card is not None else "",
                    "data_bytes": len((query.data or "").encode()),
                },
            )
        channel = _channel(card.chat.id, card.chat.type)
        return Inbound(
            kind=InboundKind.BUTTON,
            event_id=event_id,
            actor=_actor(query.from_user),
            channel=channel,
            received_at=now,
            token=token,
            message=MessageRef(
                platform=PLATFORM,
                tenant=TENANT,
                channel_id=channel.channel_id,
                message_id=str(card.message_id),
            ),
        )
    message = update.message
    if message is None or message.text is None:
        return None
    user = message.from_user
    if user is None or user.is_bot:
        return None
    channel = _channel(message.chat.id, message.chat.type)
    if channel.kind is ChannelKind.GROUP:
        addressed, other_bot = _addressing(message, me)
        if not addressed or other_bot:
            return None
    text = strip_bot_name(message.text, me.username)
    if not text:
        return None
    return Inbound(
        kind=InboundKind.MESSAGE,
        event_id=event_id,
        actor=_actor(user),
        channel=channel,
        received_at=now,
        text=text,
    )


# ---- outbound ------------------------------------------------------------------------------


def _units(text: str) -> int:
    """Length in UTF-16 code units (the strictest way Telegram may count)."""
    return len(text.encode("utf-16-le")) // 2


def split_escaped(text: str, *, budget: int = CHUNK_LIMIT) -> list[str]:
    """Split plain text so each piece, once HTML-escaped, fits `budget`; escape each piece.

    Cuts fall on line ends where possible, else between characters; since the text is
    cut before escaping, an entity such as `&amp;` is never broken. Blank pieces are dropped.
    """
    pieces: list[str] = []
    current, size = "", 0
    for line in text.splitlines(keepends=True):
        cost = _units(html.escape(line))
        if size + cost <= budget:
            current, size = current + line, size + cost
            continue
        if current:
            pieces.append(current)
        current, size = "", 0
        if cost <= budget:
            current, size = line, cost
            continue
        for char in line:  # one line longer than a message: cut between characters
            char_cost = _units(html.escape(char))
            if size + char_cost > budget:
                pieces.append(current)
                current, size = "", 0
            current, size = current + char, size + char_cost
    if current:
        pieces.append(current)
    return [html.escape(p.strip("\n")) for p in pieces if p.strip()]


def _code_chunks(code: str) -> list[str]:
    budget = CHUNK_LIMIT - len(_PRE_OPEN) - len(_PRE_CLOSE)
    return [f"{_PRE_OPEN}{piece}{_PRE_CLOSE}" for piece in split_escaped(code, budget=budget)]


def render_outcome(outcome: Outcome) -> list[TextCall | DocumentCall]:
    """The messages that post `outcome`: a card, or text then code (or a file for long code)."""
    if outcome.card is not None:
        text, keyboard = render_card(outcome.card)
        return [TextCall(text=text, reply_markup=keyboard)]
    prose = split_escaped(outcome.text)
    code = outcome.code if outcome.code.strip() else ""
    as_file = _units(html.escape(code)) > DOCUMENT_THRESHOLD
    code_parts = [] if as_file else _code_chunks(code)
    parts = [*prose, *code_parts]
    joined = "\n".join(parts)
    calls: list[TextCall | DocumentCall] = []
    if len(parts) > 1 and _units(joined) <= CHUNK_LIMIT:
        calls.append(TextCall(text=joined))
    else:
        calls.extend(TextCall(text=part) for part in parts)
    if as_file:
        calls.append(DocumentCall(file_name=outcome.file_name, data=code.encode()))
    return calls


def render_edit(outcome: Outcome) -> TextCall:
    """The one message an edit writes (a decided card has no keyboard, so it is removed)."""
    if outcome.card is not None:
        text, keyboard = render_card(outcome.card)
        return TextCall(text=text, reply_markup=keyboard)
    first = next((c for c in render_outcome(outcome) if isinstance(c, TextCall)), None)
    if first is None:
        return TextCall(text=html.escape(f"(output attached as {outcome.file_name})"))
    return first


def targets(address: Address) -> tuple[int, ...]:
    """Chat ids to try in order: a private reply in a group tries the user's DM first."""
    if address.platform != PLATFORM:
        raise ValueError("address is for another platform")
    channel = int(address.channel_id) if address.channel_id else None
    user = int(address.user_id) if address.user_id else None
    if channel is not None and user is not None and address.private:
        return (user, channel)
    if channel is not None:
        return (channel,)
    if user is not None:
        return (user,)
    raise ValueError("address names neither a chat nor a user")
