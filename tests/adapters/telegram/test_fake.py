"""The fake Telegram is as strict as the real one, seen through a real PTB Bot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken

from tests.adapters.telegram.conftest import ALICE, CAROL, GROUP
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    """A plain PTB Bot pointed at the fake."""
    async with Bot(tg.token, base_url=f"{tg.url}/bot") as client:
        yield client


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data=data)]])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x" * 4097}, "message is too long"),
        ({"text": " "}, "message text is empty"),
        ({"text": "a <b>b", "parse_mode": ParseMode.HTML}, "can't parse entities"),
        ({"text": "a <blink>b</blink>", "parse_mode": ParseMode.HTML}, "can't parse entities"),
        ({"text": "fish & chips", "parse_mode": ParseMode.HTML}, "can't parse entities"),
        ({"text": "1 < 2", "parse_mode": ParseMode.HTML}, "can't parse entities"),
        ({"text": "<b>x</i>", "parse_mode": ParseMode.HTML}, "can't parse entities"),
        ({"text": "ok", "reply_markup": keyboard("d" * 65)}, "button_data_invalid"),
        ({"text": "ok", "chat_id": -42}, "chat not found"),
    ],
    ids=[
        "too-long",
        "empty",
        "unclosed",
        "unknown-tag",
        "bare-amp",
        "bare-lt",
        "crossed",
        "callback-65-bytes",
        "unknown-chat",
    ],
)
async def test_send_message_validation(bot: Bot, kwargs: dict[str, object], error: str) -> None:
    """Messages Telegram would refuse are refused with its wording."""
    args: dict[str, object] = {"chat_id": ALICE, **kwargs}
    with pytest.raises(BadRequest) as info:
        await bot.send_message(**args)  # type: ignore[arg-type]
    assert error in info.value.message.lower()


async def test_valid_html_and_64_byte_callback_pass(tg: FakeTelegram, bot: Bot) -> None:
    """Escaped HTML and 64-byte callback data are accepted; the visible text is stored."""
    await bot.send_message(
        ALICE, "<b>a &amp; b</b> &lt;3", parse_mode=ParseMode.HTML, reply_markup=keyboard("d" * 64)
    )
    (msg,) = tg.messages_to(ALICE)
    assert msg.text == "a & b <3"


async def test_dm_refusals(tg: FakeTelegram, bot: Bot) -> None:
    """Users who never started the bot, or blocked it, give 403."""
    tg.add_user(2000, "Mallory", blocked=True)
    with pytest.raises(Forbidden, match="initiate"):
        await bot.send_message(CAROL, "hi")
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(2000, "hi")


async def test_identical_edit_is_not_modified(tg: FakeTelegram, bot: Bot) -> None:
    """Editing to the same text and keyboard is refused as not modified."""
    sent = await bot.send_message(GROUP, "v1")
    await bot.edit_message_text("v2", chat_id=GROUP, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("v2", chat_id=GROUP, message_id=sent.message_id)


async def test_callback_answered_once_and_in_time(tg: FakeTelegram, bot: Bot) -> None:
    """A second answer, or one after the window, is refused as too old."""
    sent = await bot.send_message(GROUP, "card", reply_markup=keyboard("fd:x"))
    tg.user_presses(ALICE, GROUP, sent.message_id, "fd:x")
    tg.user_presses(ALICE, GROUP, sent.message_id, "fd:x")
    await bot.answer_callback_query("1")
    with pytest.raises(BadRequest, match="too old"):
        await bot.answer_callback_query("1")
    tg.expire_callback("2")
    with pytest.raises(BadRequest, match="too old"):
        await bot.answer_callback_query("2")


async def test_tokens(tg: FakeTelegram) -> None:
    """A wrong token is 401, a malformed one 404: PTB reports both as InvalidToken."""
    for token in ["123456:WRONG-token_abcdefghijklmnopqrstuv", "nonsense"]:
        with pytest.raises(InvalidToken):
            async with Bot(token, base_url=f"{tg.url}/bot"):
                pass
    assert [c.method for c in tg.calls] == []


async def test_get_updates_conflicts(tg: FakeTelegram, bot: Bot) -> None:
    """A newer poll ends the older one with 409; so does polling while a webhook is set."""
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for_call("getUpdates")
    async with Bot(tg.token, base_url=f"{tg.url}/bot") as other:  # a second instance
        second = asyncio.create_task(other.get_updates(timeout=5))
        with pytest.raises(Conflict):
            await first
        tg.user_sends(ALICE, "hi")
        (update,) = await second
    assert update.message is not None
    await bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(Conflict, match="webhook"):
        await bot.get_updates(offset=update.update_id + 1)


async def test_offset_confirms_updates(tg: FakeTelegram, bot: Bot) -> None:
    """Updates below the offset are confirmed and gone from the queue."""
    first = tg.user_sends(ALICE, "one")
    tg.user_sends(ALICE, "two")
    assert [u.update_id for u in await bot.get_updates()] == [first, first + 1]
    assert [u.update_id for u in await bot.get_updates(offset=first + 1)] == [first + 1]
    assert tg.updates[0]["update_id"] == first + 1


async def test_webhook_delivery_keeps_update_until_2xx(tg: FakeTelegram, bot: Bot) -> None:
    """The fake POSTs exact JSON with the secret and retries until the receiver says 2xx."""
    seen: list[tuple[str, str, dict[str, object]]] = []

    async def receive(request: web.Request) -> web.Response:
        seen.append(
            (
                request.content_type,
                request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""),
                json.loads(await request.read()),
            )
        )
        return web.Response(status=500 if len(seen) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        await bot.set_webhook(f"http://{host}:{port}/hook", secret_token="s3cr3t")
        update_id = tg.user_sends(ALICE, "hello")
        await tg.wait_until(lambda: not tg.updates)
        assert tg.webhook_deliveries == [(update_id, 500), (update_id, 200)]
        assert [(c, s) for c, s, _ in seen] == [("application/json", "s3cr3t")] * 2
        assert seen[1][2]["update_id"] == update_id
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


async def test_route_accepts_json_and_query_params(tg: FakeTelegram) -> None:
    """Parameters may come as a JSON body or a query string, method names in any case."""
    async with aiohttp.ClientSession() as session:
        url = f"{tg.url}/bot{tg.token}/SENDMESSAGE"
        async with session.post(url, json={"chat_id": ALICE, "text": "json"}) as resp:
            assert (await resp.json())["ok"] is True
        async with session.post(url, params={"chat_id": str(ALICE), "text": "query"}) as resp:
            assert (await resp.json())["ok"] is True
        async with session.post(url, json={"chat_id": ALICE, "text": ""}) as resp:
            body = await resp.json()
            assert resp.status == 400
            assert body == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message text is empty",
            }
    assert [m.text for m in tg.messages_to(ALICE)] == ["json", "query"]
