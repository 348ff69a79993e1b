"""The adapter receiving updates through real PTB polling against the fake Telegram."""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import PlatformError
from bot.types import ChannelKind, Inbound, InboundKind
from tests.adapters.telegram.conftest import (
    ADMIN_COMMANDS,
    ALICE,
    BOB,
    GROUP,
    USER_COMMANDS,
    Recorder,
    Running,
    Security,
    make_adapter,
    start,
)
from tests.fakes.telegram_api import FakeTelegram


def _cmds(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"command": c, "description": d} for c, d in pairs]


async def test_startup_calls_in_order(tg: FakeTelegram, running: Running) -> None:
    """Startup asks getMe, sets the menus (admins scoped), deletes the webhook, then polls."""
    await tg.wait_for_call("getUpdates")
    methods = [c.method for c in tg.calls]
    assert methods[:4] == ["getme", "setmycommands", "setmycommands", "deletewebhook"]
    assert "getupdates" in methods[4:]
    assert tg.commands["default"] == _cmds(USER_COMMANDS)
    assert tg.commands[f"chat:{ALICE}"] == _cmds(USER_COMMANDS + ADMIN_COMMANDS)
    assert tg.calls_of("deleteWebhook")[0].params.get("drop_pending_updates") is not True


async def test_dm_text_becomes_inbound(tg: FakeTelegram, running: Running) -> None:
    """A DM arrives with namespaced identity, DM channel and the update's event id."""
    update_id = tg.user_sends(ALICE, "/run disk_usage")
    (inbound,) = await running.bot.wait_for(1)
    assert inbound.kind is InboundKind.MESSAGE
    assert inbound.event_id == f"telegram:update:{update_id}"
    assert inbound.actor.key == f"telegram:telegram:{ALICE}"
    assert inbound.actor.display_name == "alice"
    assert inbound.channel.kind is ChannelKind.DM
    assert inbound.channel.channel_id == str(ALICE)
    assert inbound.text == "/run disk_usage"


async def test_group_only_forwards_messages_addressing_the_bot(
    tg: FakeTelegram, running: Running
) -> None:
    """Group chatter and commands for other bots are dropped; @bot is stripped from the rest."""
    tg.user_sends(BOB, "lunch anyone?", chat=GROUP)
    tg.user_sends(BOB, "/run@other_bot disk_usage", chat=GROUP)
    tg.user_sends(BOB, "/run@frontdoor_bot disk_usage", chat=GROUP)
    tg.user_sends(BOB, "@frontdoor_bot /pair approve AB12", chat=GROUP)
    tg.user_sends(BOB, "/help", chat=GROUP)
    tg.user_sends(BOB, "hey @someone", chat=GROUP)
    tg.user_sends(ALICE, "sentinel")  # arrives after every update above was dispatched
    inbounds = await running.bot.wait_for(4)
    assert sorted(i.text for i in inbounds) == [
        "/help",
        "/pair approve AB12",
        "/run disk_usage",
        "sentinel",
    ]
    inbounds = [i for i in inbounds if i.text != "sentinel"]
    assert all(i.channel.kind is ChannelKind.GROUP for i in inbounds)
    assert {i.actor.display_name for i in inbounds} == {"Bob"}
    assert {i.channel.channel_id for i in inbounds} == {str(GROUP)}


async def test_reply_to_the_bot_addresses_it(tg: FakeTelegram, running: Running) -> None:
    """In a group, replying to one of the bot's messages counts as talking to the bot."""
    tg.user_sends(BOB, "/help", chat=GROUP)
    await running.bot.wait_for(1)
    bot_msg = tg.bot_posted(GROUP, "I can run tools")
    tg.user_sends(BOB, "what tools?", chat=GROUP, reply_to=bot_msg.message_id)
    inbounds = await running.bot.wait_for(2)
    assert inbounds[1].text == "what tools?"


async def test_button_press_is_answered_then_forwarded(tg: FakeTelegram, running: Running) -> None:
    """A press is answered at once, then reaches the bot as BUTTON with token and card ref."""
    card = tg.bot_posted(
        GROUP,
        "Run?",
        reply_markup={"inline_keyboard": [[{"text": "Approve", "callback_data": "fd:tok_A-1"}]]},
    )
    since = len(tg.calls)
    update_id = tg.user_presses(ALICE, GROUP, card.message_id, "fd:tok_A-1")
    (inbound,) = await running.bot.wait_for(1)
    answer = await tg.wait_for_call("answerCallbackQuery", since=since)
    assert tg.calls.index(answer) >= since
    assert inbound.kind is InboundKind.BUTTON
    assert inbound.token == "tok_A-1"
    assert inbound.event_id == f"telegram:update:{update_id}"
    assert inbound.message is not None
    assert (inbound.message.channel_id, inbound.message.message_id) == (
        str(GROUP),
        str(card.message_id),
    )
    assert inbound.actor.user_id == str(ALICE)
    assert tg.unanswered_callbacks() == []


async def test_malformed_callback_data_is_refused_and_reported(
    tg: FakeTelegram, running: Running, security: Security
) -> None:
    """Forged callback data is answered, reported without the data, and never forwarded."""
    card = tg.bot_posted(GROUP, "Hi")
    tg.user_presses(BOB, GROUP, card.message_id, "fd:../../etc", require_button=False)
    tg.user_presses(BOB, GROUP, card.message_id, "apr:42:y", require_button=False)
    await security.wait_for(2)
    assert [name for name, _ in security.events] == ["telegram_callback_malformed"] * 2
    assert all("etc" not in str(details) for _, details in security.events)
    assert security.events[0][1]["user_id"] == str(BOB)
    await tg.wait_until(lambda: not tg.unanswered_callbacks())
    assert running.bot.inbounds == []


async def test_handler_failure_does_not_stop_the_loop(tg: FakeTelegram, running: Running) -> None:
    """An exception in the bot's handler is logged; later updates still arrive."""

    async def explode(inbound: object) -> None:
        raise RuntimeError("boom")

    running.bot.react = explode
    tg.user_sends(ALICE, "first")
    tg.user_sends(ALICE, "second")
    inbounds = await running.bot.wait_for(2)
    assert sorted(i.text for i in inbounds) == ["first", "second"]


async def test_duplicate_delivery_keeps_event_id(tg: FakeTelegram, running: Running) -> None:
    """A redelivered update reaches the bot again with the same event id, for dedupe."""
    update_id = tg.user_sends(ALICE, "hello")
    await running.bot.wait_for(1)
    tg.redeliver(update_id)
    inbounds = await running.bot.wait_for(2)
    assert inbounds[0].event_id == inbounds[1].event_id == f"telegram:update:{update_id}"


async def test_handlers_run_concurrently_and_stop_waits_for_them(
    tg: FakeTelegram, security: Security
) -> None:
    """A handler blocked on a later update does not block it; serve returns after both end."""
    run = await start(make_adapter(tg, security))
    second_seen, release = asyncio.Event(), asyncio.Event()
    ended: list[tuple[str, bool]] = []

    async def react(inbound: Inbound) -> None:
        if inbound.text == "first":
            await second_seen.wait()  # only a concurrent dispatcher gets past this
            await release.wait()
        else:
            second_seen.set()
        ended.append((inbound.text, run.task.done()))

    run.bot.react = react
    tg.user_sends(ALICE, "first")
    tg.user_sends(BOB, "second")
    await asyncio.wait_for(second_seen.wait(), 5)
    await run.adapter.stop()
    await tg.wait_for_call("getUpdates", lambda p: p.get("timeout") == 0)  # polling has ended
    assert not run.task.done()
    release.set()
    await asyncio.wait_for(run.task, 10)
    assert sorted(ended) == [("first", False), ("second", False)]


async def test_rejected_token_fails_serve_without_revealing_it(
    tg: FakeTelegram, security: Security
) -> None:
    """A token Telegram rejects makes serve raise PlatformError that does not contain it."""
    token = "999999:WRONG-token_abcdefghijklmnopqrst"
    adapter = make_adapter(tg, security, token=token)
    with pytest.raises(PlatformError, match="token was rejected") as info:
        await adapter.serve(Recorder())
    assert token not in str(info.value)
    assert "WRONG" not in repr(adapter)
    assert tg.calls == []  # a wrong token is refused before it reaches any method


async def test_polling_that_dies_on_a_revoked_token_stops_serving(
    tg: FakeTelegram, security: Security
) -> None:
    """When Telegram starts refusing the token mid-run, serve raises instead of staying up but deaf."""
    run = await start(make_adapter(tg, security))
    await tg.wait_for_call("getUpdates")
    tg.inject_error("getUpdates", 401, "Unauthorized", times=50)
    tg.user_sends(ALICE, "hello")  # ends the poll in flight, so the next one meets the 401
    with pytest.raises(PlatformError, match="polling stopped"):
        await asyncio.wait_for(run.task, 20)
