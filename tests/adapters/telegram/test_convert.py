"""Pure conversions: updates to Inbounds, outcomes to message calls, addresses to chats."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import Update

from adapters.telegram.convert import (
    CHUNK_LIMIT,
    BotIdentity,
    DocumentCall,
    Refused,
    TextCall,
    render_edit,
    render_outcome,
    split_escaped,
    strip_bot_name,
    targets,
    update_to_inbound,
)
from bot.types import (
    Address,
    ApprovalCard,
    CardKind,
    CardState,
    ChannelKind,
    Inbound,
    InboundKind,
    MessageRef,
    Outcome,
)

ME = BotIdentity(id=42, username="frontdoor_bot")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
USER = {"id": 7, "is_bot": False, "first_name": "Eve", "username": "eve"}
GROUP = {"id": -5, "type": "supergroup", "title": "Ops"}
DM = {"id": 7, "type": "private", "first_name": "Eve"}


def message(text: str, chat: dict[str, Any] = GROUP, **extra: Any) -> dict[str, Any]:
    entities = []
    if text.startswith("/"):
        entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
    at = text.find("@frontdoor_bot")
    if at > 0 and text[at - 1] == " ":
        entities.append({"type": "mention", "offset": at, "length": 14})
    msg = {"message_id": 3, "date": 0, "chat": chat, "from": USER, "text": text}
    if entities:
        msg["entities"] = entities
    return {"update_id": 99, "message": {**msg, **extra}}


def convert(raw: dict[str, Any]) -> Inbound | Refused | None:
    return update_to_inbound(Update.de_json(raw, None), me=ME, now=NOW)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (message("hello", chat=DM), "hello"),
        (message("/run disk_usage", chat=DM), "/run disk_usage"),
        (message("/run disk_usage"), "/run disk_usage"),
        (message("/run@frontdoor_bot disk_usage"), "/run disk_usage"),
        (message("/RUN@FrontDoor_Bot x"), "/RUN x"),
        (message("hey @frontdoor_bot /pair approve AB12"), "hey /pair approve AB12"),
        (
            message(
                "thanks",
                reply_to_message={
                    "message_id": 1,
                    "date": 0,
                    "chat": GROUP,
                    "from": {"id": 42, "is_bot": True, "first_name": "Bot"},
                },
            ),
            "thanks",
        ),
        (message("just chatting"), None),
        (message("/run@other_bot disk_usage"), None),
        (message("mail me at x@frontdoor_bot.example"), None),
        (message("@frontdoor_bot"), None),
        (message("hi", chat=DM, **{"from": {**USER, "is_bot": True}}), None),
        ({"update_id": 99, "edited_message": message("hi", chat=DM)["message"]}, None),
    ],
    ids=[
        "dm-text",
        "dm-command",
        "group-command",
        "group-command-at-us",
        "group-command-case",
        "group-mention-stripped",
        "group-reply-to-bot",
        "group-chatter",
        "group-command-other-bot",
        "not-a-mention",
        "mention-only-empty",
        "from-a-bot",
        "edited-message",
    ],
)
def test_messages(raw: dict[str, Any], text: str | None) -> None:
    """Which messages reach the bot, and with what text."""
    result = convert(raw)
    if text is None:
        assert result is None
        return
    assert isinstance(result, Inbound)
    assert result.text == text
    assert result.kind is InboundKind.MESSAGE
    assert result.event_id == "telegram:update:99"
    assert result.actor.key == "telegram:telegram:7"
    assert result.actor.display_name == "eve"
    assert result.received_at == NOW


@pytest.mark.parametrize(
    ("chat", "kind"),
    [
        (DM, ChannelKind.DM),
        (GROUP, ChannelKind.GROUP),
        ({**GROUP, "type": "group"}, ChannelKind.GROUP),
    ],
    ids=["private", "supergroup", "group"],
)
def test_channel_kind(chat: dict[str, Any], kind: ChannelKind) -> None:
    """Private chats are DMs; every other chat type is a group."""
    result = convert(message("/help", chat=chat))
    assert isinstance(result, Inbound)
    assert result.channel.kind is kind
    assert result.channel.channel_id == str(chat["id"])


def press(data: str | None, with_message: bool = True) -> dict[str, Any]:
    query: dict[str, Any] = {"id": "q1", "from": USER, "chat_instance": "c"}
    if data is not None:
        query["data"] = data
    if with_message:
        query["message"] = {"message_id": 12, "date": 0, "chat": GROUP, "text": "card"}
    return {"update_id": 100, "callback_query": query}


def test_button_press() -> None:
    """Our callback data becomes a BUTTON with the token and a reference to the card."""
    result = convert(press("fd:tok_1-X"))
    assert isinstance(result, Inbound)
    assert result.kind is InboundKind.BUTTON
    assert result.token == "tok_1-X"
    assert result.message == MessageRef(
        platform="telegram", tenant="telegram", channel_id="-5", message_id="12"
    )


@pytest.mark.parametrize(
    "raw",
    [
        press("fd:"),
        press("fd:a/b"),
        press("fd:" + "x" * 33),
        press("apr:42:y"),
        press(None),
        press("fd:ok", with_message=False),
    ],
    ids=["empty-token", "bad-chars", "too-long", "foreign", "no-data", "no-message"],
)
def test_malformed_presses_are_refused(raw: dict[str, Any]) -> None:
    """Anything but `fd:<token>` on a message is refused, with no raw data in the details."""
    result = convert(raw)
    assert isinstance(result, Refused)
    assert result.event == "telegram_callback_malformed"
    assert result.details["user_id"] == "7"
    assert "data" not in result.details


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/run@frontdoor_bot  x", "/run x"),
        ("@frontdoor_bot   hi", "hi"),
        ("hi @frontdoor_bot", "hi"),
        ("@frontdoor_botx hi", "@frontdoor_botx hi"),
        ("a\nb @frontdoor_bot", "a\nb"),
    ],
    ids=["command-suffix", "leading-mention", "trailing-mention", "longer-name", "keeps-lines"],
)
def test_strip_bot_name(text: str, expected: str) -> None:
    """Only our exact name is removed, and line breaks survive."""
    assert strip_bot_name(text, "frontdoor_bot") == expected


@pytest.mark.parametrize(
    ("text", "budget", "count"),
    [
        ("", 100, 0),
        ("\n\n", 100, 0),
        ("short", 100, 1),
        ("a\n" * 100, 50, 4),
        ("&" * 100, 50, 10),
        ("😀" * 30, 20, 3),
    ],
    ids=["empty", "blank", "short", "lines", "entities", "utf16"],
)
def test_split_escaped(text: str, budget: int, count: int) -> None:
    """Pieces fit the budget once escaped, never cut an entity, and lose no content."""
    pieces = split_escaped(text, budget=budget)
    assert len(pieces) == count
    assert all(len(p.encode("utf-16-le")) // 2 <= budget for p in pieces)
    assert "".join(html.unescape(p) for p in pieces).replace("\n", "") == text.replace("\n", "")


def to(chat: str = "", user: str = "", private: bool = False) -> Address:
    return Address(
        platform="telegram", tenant="telegram", channel_id=chat, user_id=user, private=private
    )


def test_render_short_text_and_code_in_one_message() -> None:
    """Short prose and code share one message, the code in <pre>."""
    (call,) = render_outcome(Outcome(to=to("1"), text="a<b", code="x&y"))
    assert call == TextCall(text="a&lt;b\n<pre>x&amp;y</pre>")


def test_render_long_code_as_document() -> None:
    """Code over three messages' worth becomes a document after the prose."""
    code = "z" * (3 * CHUNK_LIMIT + 1)
    calls = render_outcome(Outcome(to=to("1"), text="see file", code=code, file_name="o.txt"))
    assert calls == [TextCall(text="see file"), DocumentCall(file_name="o.txt", data=code.encode())]


def test_render_medium_code_as_pre_chunks() -> None:
    """Code of two messages' worth is sent as <pre> chunks, each closed."""
    calls = render_outcome(Outcome(to=to("1"), text="", code="line\n" * 1500))
    assert len(calls) == 2
    assert all(isinstance(c, TextCall) and c.text.startswith("<pre>") for c in calls)
    assert all(isinstance(c, TextCall) and c.text.endswith("</pre>") for c in calls)


def test_render_nothing() -> None:
    """An outcome with no text and no code posts nothing."""
    assert render_outcome(Outcome(to=to("1"), text="  ")) == []


def test_render_edit_of_decided_card_has_no_keyboard() -> None:
    """Editing a card to a decided state drops the keyboard."""
    card = ApprovalCard(
        approval_id="a",
        kind=CardKind.PAIRING,
        title="Pair eve?",
        lines=(),
        approve_token="y",
        deny_token="n",
        state=CardState.DENIED,
        decided_by="alice",
    )
    ref = MessageRef(platform="telegram", tenant="telegram", channel_id="1", message_id="2")
    call = render_edit(Outcome(to=to("1"), text="", card=card, edit=ref))
    assert call.reply_markup is None
    assert call.text.endswith("Denied by alice</i>")


@pytest.mark.parametrize(
    ("address", "chats"),
    [
        (to(chat="-5"), (-5,)),
        (to(user="7"), (7,)),
        (to(chat="-5", user="7"), (-5,)),
        (to(chat="-5", user="7", private=True), (7, -5)),
    ],
    ids=["channel", "user", "channel-for-user", "private-in-group"],
)
def test_targets(address: Address, chats: tuple[int, ...]) -> None:
    """Addresses resolve to the chats to try, in order."""
    assert targets(address) == chats


@pytest.mark.parametrize(
    "address",
    [
        to(),
        to(chat="general"),
        Address(platform="slack", tenant="T1", channel_id="C1"),
    ],
    ids=["empty", "not-a-number", "other-platform"],
)
def test_bad_targets(address: Address) -> None:
    """Addresses the adapter cannot deliver are refused."""
    with pytest.raises(ValueError):
        targets(address)
