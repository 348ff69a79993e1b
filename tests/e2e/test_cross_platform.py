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
TG_ADMIN, TG_USER, TG_CAROL = 2001, 2002, 2003


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
        tg.add_user(TG_CAROL, "Carol", "carol")
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
            "approvers": [f"slack:{HOME}:UAPPR", f"telegram:telegram:{TG_CAROL}"],
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


async def test_linked_accounts_on_two_platforms_are_one_person(
    fakes: tuple[FakeTelegram, FakeSlack], app: App
) -> None:
    """carol on Telegram and on Slack, linked with an admin's approval, cannot approve her own request."""
    tg, slack = fakes
    await slack.deliver_socket("events", slack.dm_event("UAPPR", "link telegram:telegram:2003"))
    said = await slack.wait_for_call(
        "chat.postMessage", lambda c: "/link confirm" in c.params.get("text", ""), 30
    )
    code = re.search(r"/link confirm (\S+) ", said.params["text"])
    assert code is not None
    tg.user_sends(TG_CAROL, f"/link confirm {code.group(1)}")
    await _said(tg, TG_CAROL, "an admin must approve")
    number = re.search(r"/link approve (\d+)", await _said(tg, TG_ADMIN, "/link approve"))
    assert number is not None
    tg.user_sends(TG_ADMIN, f"/link approve {number.group(1)}")
    await _said(tg, TG_CAROL, "linked as one person")

    tg.user_sends(TG_CAROL, "/run restart_service service=web")
    await slack.wait_for_call(
        "chat.postMessage", lambda c: c.params.get("channel") == APPROVALS, 30
    )
    ts = _slack_card(slack)
    card = json.dumps(slack.message(APPROVALS, ts)["blocks"])
    assert f"slack:{HOME}:UAPPR" in card  # the requester shown as a person, every identity
    envelope = await slack.deliver_socket(
        "actions", slack.block_action("UAPPR", APPROVALS, ts, "fd_approve")
    )
    await slack.wait_ack(envelope)
    await slack.wait_for_response_text("cannot approve your own request", 30)
    assert any(b["type"] == "actions" for b in slack.message(APPROVALS, ts)["blocks"])
    assert not [m for m in tg.messages_to(TG_CAROL) if m.callback_datas()]  # no card to herself

    admin_cards = [
        m for m in tg.messages_to(TG_ADMIN) if m.callback_datas() and "restart_service" in m.text
    ]
    assert admin_cards
    tg.user_presses(
        TG_ADMIN, TG_ADMIN, admin_cards[-1].message_id, admin_cards[-1].callback_datas()[0]
    )
    await _said(tg, TG_CAROL, "restarting web ... done")
    assert sum("restarting web" in m.text for m in tg.messages_to(TG_CAROL)) == 1


async def test_ban_closes_the_card_on_both_platforms(
    fakes: tuple[FakeTelegram, FakeSlack], app: App
) -> None:
    """A ban between park and press closes the Slack card and the Telegram admin's copy, and says why."""
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
    in_flight = slack.block_action("UAPPR", APPROVALS, ts, "fd_approve")
    await tg.wait_until(lambda: any(m.callback_datas() for m in tg.messages_to(TG_ADMIN)), 30)
    admin_card = [m for m in tg.messages_to(TG_ADMIN) if m.callback_datas()][-1]
    tg.user_sends(TG_ADMIN, f"/ban telegram:telegram:{TG_USER}")
    await slack.wait_for_call("chat.update", lambda c: c.params.get("ts") == ts, 30)
    assert "Not run: the requester is banned" in json.dumps(slack.message(APPROVALS, ts)["blocks"])
    await tg.wait_until(lambda: admin_card.reply_markup is None, 30)
    assert "Not run: the requester is banned" in admin_card.text
    await _said(tg, TG_USER, "withdrawn and will not run")
    envelope = await slack.deliver_socket("actions", in_flight)
    await slack.wait_ack(envelope)
    await slack.wait_for_response_text("already decided", 30)
    assert not any("restarting api" in m.text for m in tg.messages_to(TG_USER))
    assert app.db is not None
    assert (await app.db.audit.verify()).ok
