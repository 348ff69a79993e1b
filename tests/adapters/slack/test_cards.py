"""Pure Block Kit rendering of approval cards, checked against the fake's Block Kit validator."""

from __future__ import annotations

import json

import pytest

from adapters.slack.cards import card_fallback, escape_mrkdwn, render_card, truncate
from bot.types import ApprovalCard, CardKind, CardState
from tests.fakes.slack_api import validate_blocks


def _card(**changes: object) -> ApprovalCard:
    fields: dict[str, object] = {
        "approval_id": "ap-1",
        "kind": CardKind.RUN,
        "title": "Run logs?",
        "lines": ("service=api", "by <@U1>"),
        "approve_token": "yes_1",
        "deny_token": "no_1",
    }
    fields.update(changes)
    return ApprovalCard(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U1>", "&lt;@U1&gt;"),
        ("<http://x|y>", "&lt;http://x|y&gt;"),
        ("a & b", "a &amp; b"),
        ("&lt;", "&amp;lt;"),
        ("plain *bold*", "plain *bold*"),
    ],
    ids=["channel", "user", "link", "amp", "pre-escaped", "plain"],
)
def test_escape_mrkdwn(raw: str, escaped: str) -> None:
    """The three mrkdwn control characters are escaped, nothing else changes."""
    assert escape_mrkdwn(raw) == escaped


def test_truncate_never_splits_entity() -> None:
    """A cut lands before an entity, never inside it."""
    assert truncate("abc&amp;def", 6) == "abc…"
    assert truncate("short", 10) == "short"


STATES = [
    (CardState.PENDING, True, "Approval needed"),
    (CardState.APPROVED, False, "Approved"),
    (CardState.DENIED, False, "Denied"),
    (CardState.EXPIRED, False, "Expired"),
    (CardState.CANCELLED, False, "Cancelled"),
]


@pytest.mark.parametrize(("state", "buttons", "word"), STATES, ids=[s.value for s, _, _ in STATES])
def test_only_pending_cards_have_buttons(state: CardState, buttons: bool, word: str) -> None:
    """Pending cards carry Approve/Deny; decided cards say who decided and have no buttons."""
    card = _card(state=state, decided_by="" if buttons else "bob <@U9>")
    blocks = render_card(card)
    assert validate_blocks(blocks) == []
    has_actions = any(b["type"] == "actions" for b in blocks)
    assert has_actions is buttons
    assert word in card_fallback(card)
    dumped = json.dumps(blocks)
    assert "<@U1>" not in dumped
    assert "<@U9>" not in dumped


def test_oversized_card_fields_are_cut_to_limits() -> None:
    """A huge title is cut; a card beyond any request card's size still passes, and says it was cut."""
    card = _card(title="T" * 500, lines=tuple("<" * 3000 for _ in range(100)))
    blocks = render_card(card)
    assert validate_blocks(blocks) == []
    assert len(blocks[0]["text"]["text"]) == 150
    assert "too long to show in full" in json.dumps(blocks)


def test_long_lines_are_split_across_sections_never_dropped() -> None:
    """Lines whose escaping outgrows one section continue in the next: every character is shown."""
    lines = tuple(f'  arg{i} = "{"<&>" * 80}"' for i in range(40))
    blocks = render_card(_card(lines=lines))
    assert validate_blocks(blocks) == []
    shown = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert shown == "\n".join(escape_mrkdwn(line) for line in lines)


@pytest.mark.parametrize(
    "token", ["", "a" * 33, "has space", "<!here>"], ids=["empty", "long", "space", "markup"]
)
def test_invalid_token_refuses_to_render(token: str) -> None:
    """A token outside the documented alphabet is a programming error, not a button."""
    with pytest.raises(ValueError, match="approval token"):
        render_card(_card(approve_token=token))


def test_validator_rejects_what_slack_rejects() -> None:
    """The fake's validator reports Slack-style json-pointer errors."""
    errors = validate_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])
    assert errors == ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
    assert validate_blocks([{"type": "divider"}] * 51) != []


def test_verdict_is_not_repeated() -> None:
    """When the card's lines already say who decided, no second verdict line is added."""
    card = _card(state=CardState.DENIED, decided_by="bob", lines=("service=api", "Denied by bob"))
    blocks = render_card(card)
    assert json.dumps(blocks).count("Denied") == 1
    assert card_fallback(card) == "Denied by bob: Run logs?"
