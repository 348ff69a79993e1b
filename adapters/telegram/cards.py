"""Approval cards as Telegram messages: HTML text plus an inline keyboard while pending.

A pending card carries two buttons whose `callback_data` is `fd:<token>` (the card's
opaque approve/deny token, at most 32 characters, so at most 35 bytes, well under
Telegram's 64). A decided card is plain text saying who decided, with no keyboard, so
editing a card to its decided form removes the buttons.

Pure rendering: no I/O, no Bot object.
"""

from __future__ import annotations

import html
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.types import ApprovalCard, CardState

__all__ = [
    "CALLBACK_PREFIX",
    "callback_data",
    "parse_callback_data",
    "render_card",
]

CALLBACK_PREFIX = "fd:"
# Telegram counts the text after entity parsing: title + 12 lines of <= 300 visible
# characters + the state line stay well under its 4096-character limit.
_MAX_LINE = 300
_MAX_LINES = 12
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_DECIDED = {
    CardState.APPROVED: "✅ Approved by {who}",
    CardState.DENIED: "⛔ Denied by {who}",
    CardState.EXPIRED: "⌛ Expired",
    CardState.CANCELLED: "✖ Cancelled",
}


def callback_data(token: str) -> str:
    """The callback_data for a button carrying `token`; refuses tokens outside the contract."""
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError("card token must be 1-32 characters of [A-Za-z0-9_-]")
    return CALLBACK_PREFIX + token


def parse_callback_data(data: str | None) -> str | None:
    """The token in `fd:<token>`, or None when the data is not one of our buttons."""
    if data is None or not data.startswith(CALLBACK_PREFIX):
        return None
    token = data.removeprefix(CALLBACK_PREFIX)
    return token if _TOKEN_RE.fullmatch(token) else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card_text(card: ApprovalCard) -> str:
    """The card's HTML text: bold title, one line each, and the state when decided.

    Long lines are clipped and surplus lines dropped, so a card always fits in one
    Telegram message (a card must stay a single editable message).
    """
    parts = [f"<b>{html.escape(_clip(card.title, _MAX_LINE))}</b>"]
    lines = [html.escape(_clip(line, _MAX_LINE)) for line in card.lines]
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], "…"]
    parts.extend(lines)
    if card.state is not CardState.PENDING:
        who = html.escape(card.decided_by or "someone")
        parts.append("")
        parts.append(f"<i>{html.escape(_DECIDED[card.state]).format(who=who)}</i>")
    return "\n".join(parts)


def card_keyboard(card: ApprovalCard) -> InlineKeyboardMarkup | None:
    """[Approve] [Deny] while the card is pending, else no keyboard."""
    if card.state is not CardState.PENDING:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Approve", callback_data=callback_data(card.approve_token)),
                InlineKeyboardButton("Deny", callback_data=callback_data(card.deny_token)),
            ]
        ]
    )


def render_card(card: ApprovalCard) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text (HTML) and keyboard for a card in its current state."""
    return card_text(card), card_keyboard(card)
