"""Pure conversion of Slack payloads to Inbounds and of Outcomes to call arguments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.slack import convert
from adapters.slack.convert import Refusal, ReplyContext, Workspace
from bot.types import Address, ChannelKind, Inbound, InboundKind, Outcome

WS = Workspace(team_id="T0HOME", bot_user_id="UBOT", bot_id="BBOT")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _event(**event: Any) -> dict[str, Any]:
    base = {"type": "message", "channel": "D1", "user": "U1", "text": "hi", "ts": "1.1"}
    base.update(team="T0HOME", channel_type="im")
    base.update(event)
    return {"type": "event_callback", "team_id": "T0HOME", "event_id": "Ev1", "event": base}


EVENT_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("dm", _event(), "hi"),
    ("dm-unescaped", _event(text="a &lt;b&gt; &amp;amp;"), "a <b> &amp;"),
    ("edit", _event(subtype="message_changed"), None),
    ("bot-message", _event(bot_id="B9"), None),
    ("own-message", _event(user="UBOT"), None),
    ("channel-message", _event(channel="C1", channel_type="channel"), None),
    ("no-team", _event(team=None), None),
    ("empty", _event(text="   "), None),
    ("mention", _event(type="app_mention", channel="C1", text="<@UBOT> run x"), "run x"),
    ("mention-named", _event(type="app_mention", channel="C1", text="<@UBOT|fd>  run"), "run"),
    ("mention-only", _event(type="app_mention", channel="C1", text="<@UBOT>"), None),
    ("dm-with-mention", _event(text="<@UBOT> run x <@U7>"), "run x <@U7>"),
    ("other-event", _event(type="reaction_added"), None),
]


@pytest.mark.parametrize(
    ("body", "text"), [(b, t) for _, b, t in EVENT_CASES], ids=[i for i, _, _ in EVENT_CASES]
)
def test_event_to_inbound(body: dict[str, Any], text: str | None) -> None:
    """Only IM messages and app mentions from people become Inbounds, with clean text."""
    inbound = convert.event_to_inbound(body, ws=WS, received_at=NOW)
    assert (inbound.text if inbound else None) == text
    if inbound is not None:
        assert inbound.event_id == "slack:event:Ev1"
        assert inbound.kind is InboundKind.MESSAGE


def test_event_tenant_is_user_team() -> None:
    """`user_team` wins over `team` for the actor; the channel stays in the home team."""
    body = _event(type="app_mention", channel="C1", text="<@UBOT> x", user_team="T0OTHER")
    inbound = convert.event_to_inbound(body, ws=WS, received_at=NOW)
    assert inbound is not None
    assert inbound.actor.key == "slack:T0OTHER:U1"
    assert inbound.channel.key == "slack:T0HOME:C1"
    assert inbound.channel.kind is ChannelKind.GROUP


COMMAND = {
    "team_id": "T0HOME",
    "channel_id": "C1",
    "user_id": "U1",
    "user_name": "alice",
    "command": "/frontdoor",
    "text": "pair approve AB12",
    "response_url": "https://hooks.slack.com/commands/1",
    "trigger_id": "1.2.3",
}


@pytest.mark.parametrize(
    ("change", "text"),
    [({}, "pair approve AB12"), ({"text": ""}, "help"), ({"user_id": ""}, None)],
    ids=["command", "empty-is-help", "no-user"],
)
def test_command_to_inbound(change: dict[str, str], text: str | None) -> None:
    """A slash command's argument text becomes the Inbound text."""
    inbound = convert.command_to_inbound({**COMMAND, **change}, ws=WS, received_at=NOW)
    assert (inbound.text if inbound else None) == text
    if inbound is not None:
        assert inbound.event_id == "slack:command:1.2.3"
        ctx = ReplyContext.decode(inbound.reply_context)
        assert ctx == ReplyContext(
            response_url=COMMAND["response_url"], channel_id="C1", user_id="U1"
        )


def _action(action: dict[str, Any] | None = None, **body: Any) -> dict[str, Any]:
    act = {"action_id": "fd_approve", "value": "tok_1", "action_ts": "9.9", "type": "button"}
    act.update(action or {})
    base: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U2", "team_id": "T0HOME", "name": "bob"},
        "container": {"message_ts": "5.5", "channel_id": "C1"},
        "actions": [act],
    }
    base.update(body)
    return base


ACTION_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("approve", _action(), "ok"),
    ("deny", _action({"action_id": "fd_deny"}), "ok"),
    ("unknown-action", _action({"action_id": "other"}), "unknown_action"),
    ("long-token", _action({"value": "a" * 33}), "malformed_token"),
    ("bad-chars", _action({"value": "<!channel>"}), "malformed_token"),
    ("no-value", _action({"value": None}), "malformed_token"),
    ("no-actions", _action(actions=[]), "no_action"),
    ("no-user-team", _action(user={"id": "U2"}), "no_user"),
    ("no-message", _action(container={}), "no_message"),
]


@pytest.mark.parametrize(
    ("body", "expected"), [(b, e) for _, b, e in ACTION_CASES], ids=[i for i, _, _ in ACTION_CASES]
)
def test_action_to_inbound(body: dict[str, Any], expected: str) -> None:
    """Well-formed presses become BUTTON Inbounds; anything else is refused with a reason."""
    result = convert.action_to_inbound(body, ws=WS, received_at=NOW)
    if expected == "ok":
        assert isinstance(result, Inbound)
        assert result.kind is InboundKind.BUTTON
        assert result.event_id == "slack:action:9.9:U2"
        assert result.message is not None
        assert (result.message.channel_id, result.message.message_id) == ("C1", "5.5")
    else:
        assert isinstance(result, Refusal)
        assert result.reason == expected
        assert "<!channel>" not in repr(result.details)


@pytest.mark.parametrize(
    ("raw", "budget"),
    [("a" * 10, 3), ("x&y<z>" * 50, 7), ("line one\nline two\n" * 40, 20), ("&&&&&&&&", 6)],
    ids=["plain", "entities", "lines", "only-entities"],
)
def test_split_escaped_respects_budget(raw: str, budget: int) -> None:
    """Chunks never exceed the budget, never cut an entity, and keep all content."""
    chunks = convert.split_escaped(raw, budget)
    assert all(len(c) <= budget for c in chunks)
    joined = "".join(chunks).replace("\n", "")
    unescaped = joined.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert unescaped == raw.replace("\n", "")


def _to() -> Address:
    return Address(platform="slack", tenant="T0HOME", channel_id="C1")


def test_plan_message_fences_and_defangs_code() -> None:
    """Code goes into a fenced block and cannot close the fence early."""
    plan = convert.plan_message(Outcome(to=_to(), text="", code="a ``` <!here>"))
    (msg,) = plan.messages
    assert msg["text"].startswith("```\n")
    assert msg["text"].endswith("\n```")
    assert msg["text"].count("```") == 2
    assert "&lt;!here&gt;" in msg["text"]


def test_plan_message_for_empty_outcome() -> None:
    """An outcome with no text still posts something (Slack refuses empty messages)."""
    assert convert.plan_message(Outcome(to=_to(), text="")).messages[0]["text"] == "(no output)"


def test_plan_message_big_output_becomes_file() -> None:
    """Text plus code above the threshold is planned as one file plus a short note."""
    plan = convert.plan_message(
        Outcome(to=_to(), text="summary", code="z" * convert.FILE_THRESHOLD, file_name="o.txt")
    )
    assert plan.file is not None
    assert plan.file.content == "summary\n\n" + "z" * convert.FILE_THRESHOLD
    (note,) = plan.messages
    assert "o.txt" in note["text"]


def test_edit_args_always_carry_blocks() -> None:
    """An edit of plain text still sends blocks, so a card's buttons are replaced."""
    args = convert.edit_args(Outcome(to=_to(), text="done <@U1>"))
    assert args["blocks"][0]["text"]["text"] == "done &lt;@U1&gt;"


def test_reply_context_rejects_garbage() -> None:
    """An unreadable reply context decodes to an empty one."""
    assert ReplyContext.decode("not json") == ReplyContext()
    assert ReplyContext.decode("[1]") == ReplyContext()
