"""Webhook mode: the fake Telegram POSTs updates; anything not from it is refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.telegram.adapter import TelegramWebhook
from tests.adapters.telegram.conftest import ALICE, Running, Security, finish, make_adapter, start
from tests.fakes.telegram_api import FakeTelegram

SECRET = "hook-Secret_0123456789"
UPDATE = {
    "update_id": 7,
    "message": {
        "message_id": 1,
        "date": 0,
        "chat": {"id": ALICE, "type": "private", "first_name": "Alice"},
        "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
        "text": "forged",
    },
}


@pytest.fixture
async def hooked(tg: FakeTelegram, security: Security) -> AsyncIterator[Running]:
    """An adapter in webhook mode on 127.0.0.1:0 with a small body cap."""
    hook = TelegramWebhook(secret_token=SECRET, port=0, path="/tg/hook", max_body_bytes=2048)
    run = await start(make_adapter(tg, security, mode="webhook", webhook=hook))
    yield run
    await finish(run)


async def test_registers_and_receives_updates(
    tg: FakeTelegram, hooked: Running, security: Security
) -> None:
    """setWebhook carries our URL and secret; the fake's signed POSTs become Inbounds."""
    call = await tg.wait_for_call("setWebhook")
    assert call.params["url"] == hooked.adapter.webhook_url
    assert call.params["secret_token"] == SECRET
    assert tg.calls_of("getUpdates") == []
    update_id = tg.user_sends(ALICE, "/run disk_usage")
    (inbound,) = await hooked.bot.wait_for(1)
    assert inbound.event_id == f"telegram:update:{update_id}"
    assert inbound.text == "/run disk_usage"
    await tg.wait_until(lambda: not tg.updates)
    assert tg.webhook_deliveries == [(update_id, 200)]
    assert security.events == []


@pytest.mark.parametrize(
    ("headers", "body", "status", "reason"),
    [
        ({"Content-Type": "application/json"}, json.dumps(UPDATE), 403, "secret_missing"),
        (
            {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "guess"},
            json.dumps(UPDATE),
            403,
            "secret",
        ),
        (
            {
                "Content-Type": "application/json; charset=utf-8",
                "X-Telegram-Bot-Api-Secret-Token": SECRET,
            },
            json.dumps(UPDATE),
            403,
            "content_type",
        ),
        (
            {"Content-Type": "text/plain", "X-Telegram-Bot-Api-Secret-Token": SECRET},
            json.dumps(UPDATE),
            403,
            "content_type",
        ),
        (
            {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
            json.dumps({**UPDATE, "pad": "x" * 4096}),
            413,
            "too_large",
        ),
        (
            {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
            "{not json",
            400,
            "bad_json",
        ),
    ],
    ids=["no-secret", "wrong-secret", "charset", "text-plain", "oversized", "not-json"],
)
async def test_refuses_and_reports(
    hooked: Running,
    security: Security,
    headers: dict[str, str],
    body: str,
    status: int,
    reason: str,
) -> None:
    """Requests without our secret, JSON type or size are refused and reported, secret-free."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(hooked.adapter.webhook_url, data=body.encode(), headers=headers) as resp,
    ):
        assert resp.status == status
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
    await security.wait_for(1)
    ((name, details),) = security.events
    assert name == "telegram_webhook_rejected"
    assert details["reason"] == reason
    assert SECRET not in str(details)
    assert "forged" not in str(details)
    assert hooked.bot.inbounds == []


async def test_get_is_refused(hooked: Running, security: Security) -> None:
    """Only POST is accepted on the webhook path."""
    async with aiohttp.ClientSession() as session, session.get(hooked.adapter.webhook_url) as resp:
        assert resp.status == 405
    await security.wait_for(1)
    assert security.events[0][1]["reason"] == "method"


async def test_accepted_post_with_right_secret(hooked: Running) -> None:
    """A POST with the secret and exact JSON type is accepted and dispatched."""
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with (
        aiohttp.ClientSession() as session,
        session.post(hooked.adapter.webhook_url, data=json.dumps(UPDATE), headers=headers) as resp,
    ):
        assert resp.status == 200
    (inbound,) = await hooked.bot.wait_for(1)
    assert inbound.event_id == "telegram:update:7"


@pytest.mark.parametrize(
    "secret",
    ["", "has space", "x" * 257, "semi;colon"],
    ids=["empty", "space", "too-long", "punctuation"],
)
def test_webhook_config_refuses_bad_secrets(secret: str) -> None:
    """A secret Telegram would not accept is refused at configuration time, unechoed."""
    with pytest.raises(ValueError, match="secret_token") as info:
        TelegramWebhook(secret_token=secret)
    assert secret not in str(info.value) or not secret


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 8, "message": {"text": "no date, no chat"}},
        {"update_id": 8, "message": "not an object"},
        {"update_id": 8, "callback_query": {"id": "1"}},
    ],
    ids=["missing-fields", "wrong-type", "incomplete-query"],
)
async def test_unparseable_update_is_acknowledged_and_reported(
    hooked: Running, security: Security, update: dict[str, object]
) -> None:
    """An authenticated update PTB cannot read gets 200 (no resend storm) and a report."""
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with (
        aiohttp.ClientSession() as session,
        session.post(hooked.adapter.webhook_url, data=json.dumps(update), headers=headers) as resp,
    ):
        assert resp.status == 200
    await security.wait_for(1)
    assert security.events == [("telegram_update_unparseable", {"update_id": 8})]
    assert hooked.bot.inbounds == []
