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
# Telegram counts the text after entity parsing (UTF-16 code units), at most 4096. A card's
# lines are shown whole while they fit; the title is cut at _MAX_TITLE, and only a card
# beyond that budget (no request card is: the bot refuses to park those) loses lines.
_MAX_TITLE = 300
_BUDGET = 3900
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


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def card_text(card: ApprovalCard) -> str:
    """The card's HTML text: bold title, one line each, and the state when decided.

    Every line is shown whole while the card fits in one Telegram message (a card must
    stay a single editable message); past that, the last lines give way to a marker.
    """
    title = _clip(card.title, _MAX_TITLE)
    state = ""
    if card.state is not CardState.PENDING:
        state = _DECIDED[card.state].format(who=card.decided_by or "someone")
    left = _BUDGET - _units(title) - _units(state) - 2
    lines: list[str] = []
    for line in card.lines:
        cost = _units(line) + 1
        if cost > left:
            lines.append("… (the card is too long to show in full)")
            break
        lines.append(line)
        left -= cost
    parts = [f"<b>{html.escape(title)}</b>", *(html.escape(line) for line in lines)]
    if state:
        parts.append("")
        parts.append(f"<i>{html.escape(state)}</i>")
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
