"""One bot on Telegram and Slack at once: a request from Telegram is approved in the Slack approvals channel.

One parked request, one decision, one audit trail: the Telegram admin's copy of
the card is closed too, and the run happens exactly once.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from adapters.slack.adapter import SlackAdapter
from adapters.telegram.adapter import TelegramAdapter
from bot.app import App
from bot.config import parse_config
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram, StoredMessage

HOME = "T0HOME"
APPROVALS = "C0APPROVALS"
TG_ADMIN, TG_USER = 2001, 2002


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeSlack]]:
    slack = FakeSlack(team_id=HOME)
    await slack.start()
    slack.add_user("UAPPR", name="carol")
    slack.add_user("UOTHER", name="olga")
    slack.add_channel(APPROVALS, members=("UAPPR", "UOTHER"))
    async with FakeTelegram() as tg:
        tg.add_user(TG_ADMIN, "Ada", "ada")
        tg.add_user(TG_USER, "Rex", "rex")
        yield tg, slack
    await slack.close()


@pytest.fixture
async def app(fakes: tuple[FakeTelegram, FakeSlack], tmp_path: Path) -> AsyncIterator[App]:
    tg, slack = fakes
    raw = {
        "platforms": {
            "console": {"enabled": False},
            "telegram": {"enabled": True, "token": "${TELEGRAM_BOT_TOKEN}", "api_base_url": tg.url},
            "slack": {
                "enabled": True,
                "mode": "socket",
                "bot_token": "${SLACK_BOT_TOKEN}",
                "app_token": "${SLACK_APP_TOKEN}",
                "api_base_url": slack.api_url,
                "approvals_channel": APPROVALS,
            },
        },
        "storage": {"path": str(tmp_path / "fd.db")},
        "tools": [
            {
                "name": "restart_service",
                "kind": "python",
                "code": "import sys\nprint(f'restarting {sys.argv[1]} ... done')\n",
                "argv": ["{service}"],
                "args": {"service": {"type": "choice", "choices": ["api", "web"]}},
                "risk": "high",
                "timeout": "20s",
            }
        ],
        "permissions": {"global": {"tools": ["restart_service"]}},
        "roles": {
            "admins": [f"telegram:telegram:{TG_ADMIN}"],
            "approvers": [f"slack:{HOME}:UAPPR"],
        },
    }
    env = {
        "TELEGRAM_BOT_TOKEN": tg.token,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "FRONTDOOR_DATA_KEY": Fernet.generate_key().decode(),
    }
    bot = App(parse_config(raw, base_dir=tmp_path), env=env)
    await bot.start()
    for adapter in bot.adapters:
        if isinstance(adapter, TelegramAdapter):
            await asyncio.wait_for(adapter.started.wait(), 30)
        if isinstance(adapter, SlackAdapter):
            await asyncio.wait_for(adapter.ready.wait(), 30)
    await slack.wait_connections(1)
    try:
        yield bot
    finally:
        for c in slack.calls:
            print("SLACK", c.method, c.ok, c.error, json.dumps(c.params)[:200])
        await bot.stop()


async def _said(tg: FakeTelegram, chat: int, needle: str) -> str:
    found: list[str] = []

    def check() -> bool:
        found[:] = [m.text for m in tg.messages_to(chat) if needle in m.text]
        return bool(found)

    await tg.wait_until(check, 30)
    return found[0]


def _slack_card(slack: FakeSlack) -> str:
    for (channel, ts), msg in slack.state.messages.items():
        if channel == APPROVALS and any(b["type"] == "actions" for b in msg["blocks"]):
            return ts
    raise AssertionError("no card with buttons in the Slack approvals channel")


async def test_telegram_request_approved_in_slack(
    fakes: tuple[FakeTelegram, FakeSlack], app: App
) -> None:
    """The card reaches Slack; a Slack non-approver is refused; the Slack approver's tap runs it once."""
    tg, slack = fakes
    tg.user_sends(TG_USER, "hello")
    code = re.search(r"pairing code is (\S+) ", await _said(tg, TG_USER, "pairing code is"))
    assert code is not None
    tg.user_sends(TG_ADMIN, f"/pair approve {code.group(1)}")
    await _said(tg, TG_USER, "You are paired")

    tg.user_sends(TG_USER, "/run restart_service service=api")
    await slack.wait_for_call(
        "chat.postMessage", lambda c: c.params.get("channel") == APPROVALS, 30
    )
    ts = _slack_card(slack)

    def run_cards() -> list[StoredMessage]:
        return [
            m
            for m in tg.messages_to(TG_ADMIN)
            if m.callback_datas() and "restart_service" in m.text
        ]

    await tg.wait_until(
        lambda: bool(run_cards()), 30
    )  # the Telegram admin gets a copy (no Telegram approvals chat)
    admin_cards = run_cards()
    admin_approve = admin_cards[0].callback_datas()[0]

    envelope = await slack.deliver_socket(
        "actions", slack.block_action("UOTHER", APPROVALS, ts, "fd_approve")
    )
    await slack.wait_ack(envelope)
    await slack.wait_for_response_text("not paired", 30)
    assert any(b["type"] == "actions" for b in slack.message(APPROVALS, ts)["blocks"])

    envelope = await slack.deliver_socket(
        "actions", slack.block_action("UAPPR", APPROVALS, ts, "fd_approve")
    )
    await slack.wait_ack(envelope)
    await _said(tg, TG_USER, "restarting api ... done")
    await slack.wait_for_call("chat.update", lambda c: c.params.get("ts") == ts, 30)
    assert all(b["type"] != "actions" for b in slack.message(APPROVALS, ts)["blocks"])
    await tg.wait_until(lambda: all(m.reply_markup is None for m in admin_cards), 30)

    tg.user_presses(
        TG_ADMIN, TG_ADMIN, admin_cards[0].message_id, admin_approve, require_button=False
    )
    await _said(tg, TG_ADMIN, "already decided")
    assert sum("restarting api" in m.text for m in tg.messages_to(TG_USER)) == 1
    assert app.db is not None
    assert (await app.db.audit.verify()).ok
