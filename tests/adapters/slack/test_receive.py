"""Events, slash commands and button presses through real Bolt, in both HTTP and Socket Mode."""

from __future__ import annotations

import asyncio
import json

from adapters.slack.convert import ReplyContext
from bot.types import ApprovalCard, CardKind, ChannelKind, Inbound, InboundKind, Outcome
from tests.adapters.slack.conftest import GENERAL, OTHER_TEAM, Running
from tests.fakes.slack_api import Delivery


def _ok(result: object) -> None:
    if isinstance(result, Delivery):
        assert result.status == 200, result.body


async def _post_card(run: Running) -> str:
    card = ApprovalCard(
        approval_id="ap1",
        kind=CardKind.RUN,
        title="Run disk_usage?",
        lines=("requested by alice",),
        approve_token="tok_approve_1",
        deny_token="tok_deny_1",
    )
    ref = await run.adapter.send(Outcome(to=run.home(channel_id=GENERAL), text="", card=card))
    assert ref is not None
    return ref.message_id


async def test_dm_event_becomes_inbound_with_identity(running: Running) -> None:
    """A DM becomes a MESSAGE Inbound with the user's team as tenant and a stable event id."""
    payload = running.fake.dm_event("U1", "run disk_usage path=<x> & more")
    _ok(await running.deliver("events", payload))
    (inbound,) = await running.recorder.wait_count(1)
    assert inbound.kind is InboundKind.MESSAGE
    assert inbound.event_id == f"slack:event:{payload['event_id']}"
    assert inbound.actor.key == "slack:T0HOME:U1"
    assert inbound.channel.key == "slack:T0HOME:DU1"
    assert inbound.channel.kind is ChannelKind.DM
    assert inbound.text == "run disk_usage path=<x> & more"
    assert inbound.actor.display_name == "alice"


async def test_bot_echo_is_ignored(running: Running) -> None:
    """The bot's own message, echoed back as an event, never reaches the handler."""
    dm = running.fake.dm_channel("U1")
    ref = await running.adapter.send(Outcome(to=running.home(channel_id=dm), text="hello"))
    assert ref is not None
    _ok(await running.deliver("events", running.fake.echo_event(dm, ref.message_id)))
    _ok(await running.deliver("events", running.fake.dm_event("U1", "marker")))
    inbounds = await running.recorder.wait_count(1)
    assert [i.text for i in inbounds] == ["marker"]


async def test_app_mention_is_stripped(running: Running) -> None:
    """An app_mention in a channel arrives without the bot mention, as a GROUP message."""
    _ok(await running.deliver("events", running.fake.mention_event("U2", GENERAL, "run logs")))
    (inbound,) = await running.recorder.wait_count(1)
    assert inbound.text == "run logs"
    assert inbound.channel.kind is ChannelKind.GROUP
    assert inbound.actor.user_id == "U2"


async def test_slash_command_is_acked_and_converted(running: Running) -> None:
    """A slash command is acked (within the 3 s delivery timeout) and becomes its argument text."""
    form = running.fake.slash_command("U1", "run disk_usage a=b")
    result = await running.deliver("commands", form)
    _ok(result)
    (inbound,) = await running.recorder.wait_count(1)
    assert inbound.text == "run disk_usage a=b"
    assert inbound.event_id == f"slack:command:{form['trigger_id']}"
    assert inbound.actor.display_name == "alice"
    assert ReplyContext.decode(inbound.reply_context).response_url == form["response_url"]


async def test_slash_command_reply_reaches_response_url(running: Running) -> None:
    """A private reply to a slash command goes back through its response_url, ephemeral."""

    async def reply(inbound: Inbound) -> None:
        to = running.home(
            channel_id=inbound.channel.channel_id,
            user_id=inbound.actor.user_id,
            private=True,
            reply_context=inbound.reply_context,
        )
        await running.adapter.send(Outcome(to=to, text="paired <!here>"))

    running.recorder.reply = reply
    _ok(await running.deliver("commands", running.fake.slash_command("U1", "pair approve AB12")))
    (response,) = await running.fake.wait_for_response(1)
    assert response["body"]["response_type"] == "ephemeral"
    assert response["body"]["text"] == "paired &lt;!here&gt;"


async def test_button_press_becomes_button_inbound(running: Running) -> None:
    """An Approve press becomes a BUTTON Inbound with the token and the card's message ref."""
    ts = await _post_card(running)
    payload = running.fake.block_action("U2", GENERAL, ts, "fd_approve")
    _ok(await running.deliver("actions", payload))
    (inbound,) = await running.recorder.wait_count(1)
    assert inbound.kind is InboundKind.BUTTON
    assert inbound.token == "tok_approve_1"
    assert inbound.message is not None
    assert (inbound.message.channel_id, inbound.message.message_id) == (GENERAL, ts)
    assert inbound.event_id == f"slack:action:{payload['actions'][0]['action_ts']}:U2"


async def test_malformed_button_value_is_refused_and_reported(running: Running) -> None:
    """A press carrying a malformed token is acked, reported, and not forwarded."""
    ts = await _post_card(running)
    bad = running.fake.block_action("U2", GENERAL, ts, "fd_deny", value="x" * 40 + "<!channel>")
    _ok(await running.deliver("actions", bad))
    ((kind, details),) = await running.security.wait_count(1)
    assert kind == "slack_button_refused"
    assert details["reason"] == "malformed_token"
    assert "<!channel>" not in json.dumps(details)
    _ok(await running.deliver("actions", running.fake.block_action("U2", GENERAL, ts, "fd_deny")))
    inbounds = await running.recorder.wait_count(1)
    assert [i.token for i in inbounds] == ["tok_deny_1"]


async def test_retried_event_keeps_its_event_id(running: Running) -> None:
    """A redelivered event reaches the handler again with the same event id (the bot dedupes)."""
    payload = running.fake.dm_event("U1", "run x")
    _ok(await running.deliver("events", payload))
    _ok(await running.deliver("events", payload, retry_num=1))
    first, second = await running.recorder.wait_count(2)
    assert first.event_id == second.event_id == f"slack:event:{payload['event_id']}"


async def test_user_of_another_team_is_another_identity(running: Running) -> None:
    """A shared-channel user of another workspace gets their own team as tenant, everywhere."""
    _ok(await running.deliver("events", running.fake.mention_event("UX", GENERAL, "run x")))
    _ok(await running.deliver("commands", running.fake.slash_command("UX", "run y")))
    ts = await _post_card(running)
    _ok(
        await running.deliver("actions", running.fake.block_action("UX", GENERAL, ts, "fd_approve"))
    )
    inbounds = await running.recorder.wait_count(3)
    assert {i.actor.key for i in inbounds} == {f"slack:{OTHER_TEAM}:UX"}
    assert {i.channel.tenant for i in inbounds} == {"T0HOME"}


async def test_handler_exception_does_not_stop_serving(running: Running) -> None:
    """A failing handler call is logged; the next event is still handled."""

    async def explode(inbound: Inbound) -> None:
        if inbound.text == "boom":
            raise RuntimeError("handler bug")

    running.recorder.reply = explode
    _ok(await running.deliver("events", running.fake.dm_event("U1", "boom")))
    _ok(await running.deliver("events", running.fake.dm_event("U1", "after")))
    inbounds = await running.recorder.wait_count(2)
    assert sorted(i.text for i in inbounds) == ["after", "boom"]


async def test_slow_handler_neither_delays_ack_nor_blocks_others(running: Running) -> None:
    """The ack comes while the first handler call still waits, and a second event is handled."""
    release = asyncio.Event()

    async def wait_for_second(inbound: Inbound) -> None:
        if inbound.text == "first":
            await release.wait()

    running.recorder.reply = wait_for_second
    _ok(await running.deliver("commands", running.fake.slash_command("U1", "first")))
    _ok(await running.deliver("events", running.fake.dm_event("U1", "second")))
    inbounds = await running.recorder.wait_count(2)
    assert [i.text for i in inbounds] == ["first", "second"]
    release.set()


async def test_serve_returns_after_in_flight_handlers(running: Running) -> None:
    """`stop()` ends receiving; `serve` returns only once the running handler call finished."""
    release = asyncio.Event()
    finished: list[str] = []

    async def slow(inbound: Inbound) -> None:
        await release.wait()
        await asyncio.sleep(0)
        finished.append(inbound.text)

    running.recorder.reply = slow
    _ok(await running.deliver("events", running.fake.dm_event("U1", "long job")))
    await running.recorder.wait_count(1)
    await running.adapter.stop()
    assert not running.task.done()
    release.set()
    await asyncio.wait_for(running.task, 5)
    assert finished == ["long job"]


async def test_edits_and_bot_messages_are_acked_but_ignored(running: Running) -> None:
    """Subtypes and other bots' messages get a 2xx/ack (no Slack retry) and reach no handler."""
    fake = running.fake
    dm = fake.dm_channel("U1")
    base = {
        "type": "message",
        "channel": dm,
        "channel_type": "im",
        "ts": "1.000001",
        "team": "T0HOME",
    }
    edited = fake.event_callback({**base, "subtype": "message_changed", "user": "U1"})
    other_bot = fake.event_callback({**base, "bot_id": "BOTHER", "user": "U9", "text": "hi"})
    for payload in (edited, other_bot):
        _ok(await running.deliver("events", payload))
    _ok(await running.deliver("events", fake.dm_event("U1", "marker")))
    inbounds = await running.recorder.wait_count(1)
    assert [i.text for i in inbounds] == ["marker"]
