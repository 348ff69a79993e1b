"""Approval cards as Slack Block Kit: pure rendering, no I/O.

A pending card is a header, sections with the request's lines and an actions
block with Approve / Deny buttons whose `value` is the opaque token; a decided
card keeps the header and lines and replaces the buttons with who decided.
Every string a person or a tool could influence is escaped for mrkdwn. The lines
are shown whole: they are packed into as many sections as they need (each within
Slack's limit), so an approver reads every argument; only the header is cut.
"""

from __future__ import annotations

import re
from typing import Any

from bot.types import ApprovalCard, CardState

__all__ = [
    "APPROVE_ACTION",
    "BUTTON_TEXT_MAX",
    "DENY_ACTION",
    "HEADER_MAX",
    "SECTION_MAX",
    "TEXT_MAX",
    "TOKEN_RE",
    "card_fallback",
    "escape_mrkdwn",
    "render_card",
    "truncate",
]

APPROVE_ACTION = "fd_approve"
DENY_ACTION = "fd_deny"
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")

HEADER_MAX = 150
SECTION_MAX = 3000
MAX_SECTIONS = 45  # with the header and the buttons (or verdict) under Slack's 50 blocks
BUTTON_TEXT_MAX = 75
BLOCK_ID_MAX = 255
TEXT_MAX = 4000

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_STATE_WORDS = {
    CardState.APPROVED: "Approved",
    CardState.DENIED: "Denied",
    CardState.EXPIRED: "Expired",
    CardState.CANCELLED: "Cancelled",
}


def escape_mrkdwn(text: str) -> str:
    """Escape the three control characters of Slack mrkdwn.

    After this no `<!channel>`, `<@U…>` or `<http://x|y>` sequence survives, so
    text cannot ping, mention or forge a link.
    """
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis.

    A cut never splits an `&amp;`-style entity made by `escape_mrkdwn`.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _chunks(line: str, limit: int) -> list[str]:
    """`line` cut into pieces of at most `limit` characters, never inside an `&amp;` entity."""
    out = []
    while len(line) > limit:
        cut = limit
        amp = line.rfind("&", 0, cut)
        if amp != -1 and ";" not in line[amp:cut]:
            cut = amp
        out.append(line[:cut])
        line = line[cut:]
    out.append(line)
    return out


def _sections(lines: list[str]) -> list[str]:
    """Escaped lines packed into section texts of at most SECTION_MAX characters.

    Nothing is dropped: a long line continues in the next section. Only a card beyond
    what any request card can hold (more than MAX_SECTIONS sections) is cut, and says so.
    """
    texts: list[str] = []
    current = ""
    for line in lines:
        for piece in _chunks(line, SECTION_MAX):
            joined = f"{current}\n{piece}" if current else piece
            if len(joined) <= SECTION_MAX:
                current = joined
            else:
                texts.append(current)
                current = piece
    if current.strip():
        texts.append(current)
    if len(texts) > MAX_SECTIONS:
        texts = [*texts[: MAX_SECTIONS - 1], "… (the card is too long to show in full)"]
    return texts


def _block_id(approval_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.:-]", "_", approval_id)
    return truncate(f"fd_card:{safe}", BLOCK_ID_MAX)


def _button(text: str, action_id: str, token: str, style: str) -> dict[str, Any]:
    if TOKEN_RE.fullmatch(token) is None:
        raise ValueError(f"approval token for {action_id} is not 1-32 characters of [A-Za-z0-9_-]")
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT_MAX), "emoji": False},
        "value": token,
        "style": style,
    }


def card_fallback(card: ApprovalCard) -> str:
    """The notification text for a card (escaped; the blocks carry the details)."""
    if card.state is CardState.PENDING:
        head = f"Approval needed: {card.title}"
    else:
        who = f" by {card.decided_by}" if card.decided_by else ""
        head = f"{_STATE_WORDS[card.state]}{who}: {card.title}"
    return truncate(escape_mrkdwn(head), TEXT_MAX)


def render_card(card: ApprovalCard) -> list[dict[str, Any]]:
    """Render a card as Block Kit blocks: buttons only while it is `PENDING`."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(card.title or "Approval request", HEADER_MAX),
                "emoji": False,
            },
        }
    ]
    blocks.extend(
        {"type": "section", "text": {"type": "mrkdwn", "text": text}}
        for text in _sections([escape_mrkdwn(line) for line in card.lines])
    )
    if card.state is CardState.PENDING:
        blocks.append(
            {
                "type": "actions",
                "block_id": _block_id(card.approval_id),
                "elements": [
                    _button("Approve", APPROVE_ACTION, card.approve_token, "primary"),
                    _button("Deny", DENY_ACTION, card.deny_token, "danger"),
                ],
            }
        )
    elif not any(line.startswith(_STATE_WORDS[card.state]) for line in card.lines):
        # the verdict, unless the bot's own lines already state it ("Approved by …")
        verdict = f"*{_STATE_WORDS[card.state]}*"
        if card.decided_by:
            verdict += f" by {escape_mrkdwn(card.decided_by)}"
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": truncate(verdict, SECTION_MAX)}],
            }
        )
    return blocks
