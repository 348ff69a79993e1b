"""Approval cards rendered for Telegram: text per state, keyboard only while pending."""

from __future__ import annotations

import html

import pytest

from adapters.telegram.cards import callback_data, parse_callback_data, render_card
from bot.types import ApprovalCard, CardKind, CardState


def card(state: CardState, by: str = "", **kw: object) -> ApprovalCard:
    args: dict[str, object] = {
        "approval_id": "ap1",
        "kind": CardKind.RUN,
        "title": "Run <logs>?",
        "lines": ("service=api & lines=100",),
        "approve_token": "Y" * 32,
        "deny_token": "N" * 32,
        "state": state,
        "decided_by": by,
    }
    args.update(kw)
    return ApprovalCard(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "by", "ending"),
    [
        (CardState.APPROVED, "alice", "<i>✅ Approved by alice</i>"),
        (CardState.DENIED, "<bob>", "<i>⛔ Denied by &lt;bob&gt;</i>"),
        (CardState.EXPIRED, "", "<i>⌛ Expired</i>"),
        (CardState.CANCELLED, "", "<i>✖ Cancelled</i>"),
    ],
    ids=["approved", "denied-escaped", "expired", "cancelled"],
)
def test_decided_cards_have_no_keyboard(state: CardState, by: str, ending: str) -> None:
    """A decided card says what happened and by whom, escaped, with no buttons."""
    text, keyboard = render_card(card(state, by))
    assert keyboard is None
    assert text.startswith("<b>Run &lt;logs&gt;?</b>\nservice=api &amp; lines=100")
    assert text.endswith(ending)


def test_pending_card_has_approve_and_deny() -> None:
    """A pending card has one row: Approve then Deny, each carrying its token."""
    text, keyboard = render_card(card(CardState.PENDING))
    assert keyboard is not None
    (row,) = keyboard.inline_keyboard
    assert [(b.text, b.callback_data) for b in row] == [
        ("Approve", "fd:" + "Y" * 32),
        ("Deny", "fd:" + "N" * 32),
    ]
    assert all(len(str(b.callback_data).encode()) <= 64 for b in row)
    assert "Approved" not in text


def test_huge_card_is_clipped_to_one_message() -> None:
    """A card beyond any request card's size still fits one message, and says it was cut."""
    text, _ = render_card(card(CardState.PENDING, title="t" * 5000, lines=("l" * 900,) * 50))
    assert len(text) < 4096
    assert text.endswith("… (the card is too long to show in full)")


def test_every_line_of_a_request_card_is_shown_whole() -> None:
    """40 long lines full of markup characters: none clipped, none dropped (the approver reads all)."""
    lines = tuple(f'  arg{i} = "{"<&>" * 20}"' for i in range(40))
    text, _ = render_card(card(CardState.PENDING, lines=lines))
    for line in lines:
        assert html.escape(line) in text
    assert "too long" not in text


@pytest.mark.parametrize(
    ("data", "token"),
    [
        ("fd:abc", "abc"),
        ("fd:" + "a" * 32, "a" * 32),
        ("fd:A_b-9", "A_b-9"),
        ("fd:" + "a" * 33, None),
        ("fd:", None),
        ("fd:a b", None),
        ("xx:abc", None),
        (None, None),
    ],
    ids=["simple", "max-length", "charset", "too-long", "empty", "space", "prefix", "none"],
)
def test_parse_callback_data(data: str | None, token: str | None) -> None:
    """Only `fd:` plus 1-32 characters of [A-Za-z0-9_-] is one of our buttons."""
    assert parse_callback_data(data) == token


@pytest.mark.parametrize(
    "token", ["", "a" * 33, "a:b", "ä"], ids=["empty", "long", "colon", "umlaut"]
)
def test_callback_data_refuses_tokens_outside_the_contract(token: str) -> None:
    """A token the bot should never mint is refused rather than sent to Telegram."""
    with pytest.raises(ValueError):
        callback_data(token)
