"""Posting outcomes: escaping, limits, splitting, files, cards, edits, privacy and errors."""

from __future__ import annotations

import json

import pytest

from adapters.base import PlatformError
from adapters.slack.convert import ReplyContext
from bot.types import ApprovalCard, CardKind, CardState, Outcome
from tests.adapters.slack.conftest import GENERAL, Running, start_adapter, stop_adapter
from tests.fakes.slack_api import FakeSlack

HOSTILE = ("<!channel>", "<!here>", "<@U1>", "<http://evil.test|click me>")


def _card(state: CardState = CardState.PENDING, decided_by: str = "") -> ApprovalCard:
    return ApprovalCard(
        approval_id="ap-7",
        kind=CardKind.RUN,
        title="Run logs service=api?",
        lines=("requested by <@U1>", "risk: high"),
        approve_token="Ab_-9",
        deny_token="Zz_-0",
        state=state,
        decided_by=decided_by,
    )


def _posted_text(fake: FakeSlack) -> str:
    return json.dumps([c.params for c in fake.calls_of("chat.postMessage")])


@pytest.mark.parametrize("hostile", HOSTILE, ids=["channel", "here", "user", "link"])
async def test_hostile_output_arrives_escaped(running: Running, hostile: str) -> None:
    """Mentions, broadcasts and links in text and code arrive as inert escaped text."""
    outcome = Outcome(to=running.home(channel_id=GENERAL), text=f"done {hostile}", code=hostile)
    await running.adapter.send(outcome)
    call = await running.fake.wait_for_call("chat.postMessage")
    dumped = _posted_text(running.fake)
    assert hostile not in dumped
    assert hostile.replace("<", "&lt;").replace(">", "&gt;") in call.params["text"]
    assert call.params["unfurl_links"] is False


async def test_long_output_is_split_within_limits(running: Running) -> None:
    """Output over one message is split into several, each within Slack's limits."""
    code = "\n".join(f"line {i:05d} & <tag>" for i in range(600))
    ref = await running.adapter.send(
        Outcome(to=running.home(channel_id=GENERAL), text="logs", code=code)
    )
    assert ref is not None
    calls = running.fake.calls_of("chat.postMessage")
    assert len(calls) >= 3
    assert all(c.ok and len(c.params["text"]) <= 4000 for c in calls)
    assert all(len(c.params["blocks"][0]["text"]["text"]) <= 3000 for c in calls)
    joined = "".join(c.params["text"] for c in calls)
    assert joined.count("&amp; &lt;tag&gt;") == 600
    assert (GENERAL, ref.message_id) in running.fake.state.messages


async def test_very_long_output_is_uploaded_as_file(running: Running) -> None:
    """Output beyond the file threshold is uploaded in full via files_upload_v2."""
    code = "".join(f"{i:08d} <!channel>\n" for i in range(5000))
    outcome = Outcome(
        to=running.home(channel_id=GENERAL), text="big run", code=code, file_name="run.log"
    )
    await running.adapter.send(outcome)
    done = await running.fake.wait_for_call("files.completeUploadExternal")
    assert done.ok
    (stored,) = running.fake.state.files.values()
    assert stored["name"] == "run.log"
    assert stored["channel"] == GENERAL
    assert stored["content"].decode().endswith(code)
    (note,) = running.fake.calls_of("chat.postMessage")
    assert "run.log" in note.params["text"]


async def test_card_has_approve_and_deny_buttons(running: Running) -> None:
    """A pending card is posted with Approve/Deny buttons carrying the tokens."""
    ref = await running.adapter.send(
        Outcome(to=running.home(channel_id=GENERAL), text="", card=_card())
    )
    assert ref is not None
    stored = running.fake.message(GENERAL, ref.message_id)
    buttons = [e for b in stored["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("fd_approve", "Ab_-9"),
        ("fd_deny", "Zz_-0"),
    ]
    assert "<@U1>" not in json.dumps(stored["blocks"])


async def test_edit_removes_buttons(running: Running) -> None:
    """Editing a card to a decided state calls chat.update with blocks and no buttons."""
    ref = await running.adapter.send(
        Outcome(to=running.home(channel_id=GENERAL), text="", card=_card())
    )
    assert ref is not None
    decided = _card(CardState.APPROVED, decided_by="bob")
    again = await running.adapter.send(
        Outcome(to=running.home(channel_id=GENERAL), text="", card=decided, edit=ref)
    )
    assert again == ref
    update = await running.fake.wait_for_call("chat.update")
    assert update.ok
    assert "blocks" in update.params
    stored = running.fake.message(GENERAL, ref.message_id)
    assert all(b["type"] != "actions" for b in stored["blocks"])
    assert "Approved" in json.dumps(stored["blocks"])


async def test_private_reply_is_ephemeral(running: Running) -> None:
    """A private reply in a channel without a response URL uses chat.postEphemeral."""
    ref = await running.adapter.send(
        Outcome(to=running.home(channel_id=GENERAL, user_id="U1", private=True), text="only you")
    )
    assert ref is None
    call = await running.fake.wait_for_call("chat.postEphemeral")
    assert call.ok
    assert (call.params["channel"], call.params["user"]) == (GENERAL, "U1")
    assert not running.fake.calls_of("chat.postMessage")


async def test_untrusted_response_url_is_not_used(running: Running) -> None:
    """A reply context pointing elsewhere falls back to chat.postEphemeral."""
    ctx = ReplyContext(response_url="http://198.51.100.7/hook", channel_id=GENERAL, user_id="U1")
    to = running.home(channel_id=GENERAL, user_id="U1", private=True, reply_context=ctx.encode())
    await running.adapter.send(Outcome(to=to, text="only you"))
    assert (await running.fake.wait_for_call("chat.postEphemeral")).ok


async def test_direct_message_opens_conversation(running: Running) -> None:
    """An address with only a user opens the DM and posts there."""
    ref = await running.adapter.send(Outcome(to=running.home(user_id="U2"), text="hi bob"))
    assert ref is not None
    assert (await running.fake.wait_for_call("conversations.open")).params["users"] == "U2"
    assert ref.channel_id == "DU2"
    assert running.fake.message("DU2", ref.message_id)["text"] == "hi bob"


async def test_private_card_goes_to_dm(running: Running) -> None:
    """A card for one person goes to their DM, where it can later be edited."""
    to = running.home(channel_id=GENERAL, user_id="U2", private=True)
    ref = await running.adapter.send(Outcome(to=to, text="", card=_card()))
    assert ref is not None
    assert ref.channel_id == "DU2"


async def test_rate_limit_is_retried(running: Running) -> None:
    """A 429 with Retry-After is waited out and the message still delivered."""
    running.fake.inject_429("chat.postMessage", retry_after=1)
    ref = await running.adapter.send(Outcome(to=running.home(channel_id=GENERAL), text="later"))
    assert ref is not None
    statuses = [c.status for c in running.fake.calls_of("chat.postMessage")]
    assert statuses == [429, 200]


async def test_persistent_rate_limit_raises(fake: FakeSlack) -> None:
    """When retries are used up, send raises PlatformError carrying retry_after."""
    run = await start_adapter(fake, "socket", max_retries=1)
    try:
        fake.inject_429("chat.postMessage", retry_after=1, times=2)
        with pytest.raises(PlatformError) as info:
            await run.adapter.send(Outcome(to=run.home(channel_id=GENERAL), text="x"))
        assert info.value.retry_after == 1.0
        assert "ratelimited" in str(info.value)
    finally:
        await stop_adapter(run)


@pytest.mark.parametrize(
    ("channel", "error"),
    [("C0MISSING", "channel_not_found"), (GENERAL, "is_archived")],
    ids=["missing-channel", "archived"],
)
async def test_platform_error_is_raised(running: Running, channel: str, error: str) -> None:
    """A Slack API error becomes PlatformError naming the method and error code."""
    if error == "is_archived":
        running.fake.inject_error("chat.postMessage", error)
    with pytest.raises(PlatformError, match=f"chat.postMessage failed: {error}") as info:
        await running.adapter.send(Outcome(to=running.home(channel_id=channel), text="x"))
    assert info.value.platform == "slack"
    assert info.value.retry_after is None


async def test_expired_response_url_falls_back_to_ephemeral(running: Running) -> None:
    """When the response URL is gone (30 min / 5 uses), the reply goes out as an ephemeral."""
    ctx = ReplyContext(
        response_url=f"{running.fake.base_url}/response/R-expired", channel_id=GENERAL, user_id="U1"
    )
    to = running.home(channel_id=GENERAL, user_id="U1", private=True, reply_context=ctx.encode())
    await running.adapter.send(Outcome(to=to, text="late result"))
    call = await running.fake.wait_for_call("chat.postEphemeral")
    assert call.params["text"] == "late result"
    assert not running.fake.state.responses


async def test_refused_ephemeral_falls_back_to_dm(running: Running) -> None:
    """Where an ephemeral cannot be shown, the private reply goes to the user's DM, never the channel."""
    running.fake.add_channel("C0ELSEWHERE", members=("U2",))
    to = running.home(channel_id="C0ELSEWHERE", user_id="U1", private=True)
    await running.adapter.send(Outcome(to=to, text="for your eyes"))
    refused = await running.fake.wait_for_call("chat.postEphemeral")
    assert refused.error == "user_not_in_channel"
    posted = await running.fake.wait_for_call("chat.postMessage")
    assert posted.params["channel"] == "DU1"
    assert all(
        c.params["channel"] != "C0ELSEWHERE" for c in running.fake.calls_of("chat.postMessage")
    )


async def test_very_long_output_to_a_user_is_uploaded_in_their_dm(running: Running) -> None:
    """A file for one person is uploaded into the DM opened for them."""
    code = "x" * 20_000
    await running.adapter.send(Outcome(to=running.home(user_id="U2"), text="", code=code))
    done = await running.fake.wait_for_call("files.completeUploadExternal")
    assert done.params["channel_id"] == "DU2"
    (stored,) = running.fake.state.files.values()
    assert stored["content"] == code.encode()


async def test_private_reply_never_lands_in_another_users_dm(running: Running) -> None:
    """A private reply addressed with a DM channel goes to the DM of the user it is for."""
    running.fake.dm_channel("U2")
    to = running.home(channel_id="DU2", user_id="U1", private=True)
    ref = await running.adapter.send(Outcome(to=to, text="for alice only"))
    assert ref is not None
    assert ref.channel_id == "DU1"
    assert all(c.params["channel"] != "DU2" for c in running.fake.calls_of("chat.postMessage"))


async def test_dm_channel_is_looked_up_once(running: Running) -> None:
    """Repeated DMs to one user open the conversation once."""
    for text in ("one", "two", "three"):
        await running.adapter.send(Outcome(to=running.home(user_id="U2"), text=text))
    assert len(running.fake.calls_of("conversations.open")) == 1
    assert len(running.fake.calls_of("chat.postMessage")) == 3
