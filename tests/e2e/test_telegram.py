"""The whole bot behind real python-telegram-bot, against FakeTelegram (polling and webhook).

One scenario: pairing, a low-risk run, a duplicate update, an approval card, a refused
presser, an approver who runs the request exactly once (also with concurrent taps),
the card edited without buttons, hostile tool output arriving harmless, and a restart
between a card and its press. Webhook mode: the same pairing path, and forged posts refused.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet

from adapters.telegram.adapter import TelegramAdapter
from bot.app import App
from bot.config import Config, parse_config
from tests.fakes.telegram_api import FakeTelegram, StoredMessage

ADMIN, REQUESTER, APPROVER, STRANGER = 1001, 1002, 1003, 1004
APPROVALS = -100777
LEAKED = "ghp_" + "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3t"
HOOK_SECRET = "e2e-hook_SECRET-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(fake: FakeTelegram, tmp_path: Path, webhook: bool = False) -> Config:
    telegram: dict[str, Any] = {
        "enabled": True,
        "token": "${TELEGRAM_BOT_TOKEN}",
        "api_base_url": fake.url,
        "approvals_chat": APPROVALS,
    }
    if webhook:
        port = _free_port()  # config needs the public URL up front
        telegram["webhook"] = {
            "enabled": True,
            "listen": "127.0.0.1",
            "port": port,
            "path": "/tg",
            "url": f"http://127.0.0.1:{port}/tg",
            "secret_token": "${TELEGRAM_WEBHOOK_SECRET}",
        }
    raw = {
        "platforms": {"console": {"enabled": False}, "telegram": telegram},
        "storage": {"path": str(tmp_path / "frontdoor.db")},
        "tools": [
            {
                "name": "hello",
                "kind": "python",
                "code": "import sys\nprint(f'hello, {sys.argv[1]}!')\n",
                "argv": ["{who}"],
                "args": {"who": {"type": "str", "pattern": "[a-z]{1,16}"}},
                "risk": "low",
                "timeout": "20s",
            },
            {
                "name": "restart_service",
                "kind": "python",
                "code": "import sys\nprint(f'restarting {sys.argv[1]} ... done')\n",
                "argv": ["{service}"],
                "args": {"service": {"type": "choice", "choices": ["api", "web"]}},
                "risk": "high",
                "timeout": "20s",
            },
            {
                "name": "leak",
                "kind": "python",
                "code": "import os\nprint('<b>bold</b> & key=' + os.environ['DEMO_KEY'])\n",
                "risk": "low",
                "timeout": "20s",
                "secrets": ["DEMO_KEY"],
            },
            {
                "name": "add_member",
                "kind": "python",
                "code": "import sys\nprint('added', sys.argv[1])\n",
                "argv": ["{email}", "{note}"],
                "args": {"email": {"type": "str"}, "note": {"type": "str", "default": "none"}},
                "risk": "high",
                "timeout": "20s",
            },
        ],
        "permissions": {"global": {"tools": ["hello", "restart_service", "leak", "add_member"]}},
        "roles": {
            "admins": [f"telegram:telegram:{ADMIN}"],
            "approvers": [f"telegram:telegram:{APPROVER}"],
        },
        "autonomy": {"default": "supervised"},
    }
    return parse_config(raw, base_dir=tmp_path)


@dataclass
class Bot:
    """The running bot and how to reach it."""

    fake: FakeTelegram
    app: App
    config: Config
    env: dict[str, str]

    @property
    def adapter(self) -> TelegramAdapter:
        """The bot's Telegram adapter."""
        (adapter,) = self.app.adapters
        assert isinstance(adapter, TelegramAdapter)
        return adapter

    async def said(self, chat: int, needle: str, timeout: float = 30) -> StoredMessage:
        """Wait for a bot message in `chat` whose visible text contains `needle`."""
        found: list[StoredMessage] = []

        def check() -> bool:
            found[:] = [m for m in self.fake.messages_to(chat) if needle in m.text]
            return bool(found)

        await self.fake.wait_until(check, timeout)
        return found[0]

    def count(self, chat: int, needle: str) -> int:
        """How many bot messages in `chat` contain `needle`."""
        return sum(needle in m.text for m in self.fake.messages_to(chat))

    async def restart(self) -> None:
        """Stop the bot and start a new process-equivalent on the same storage."""
        await self.app.stop()
        self.app = App(self.config, env=self.env)
        await self.app.start()
        await asyncio.wait_for(self.adapter.started.wait(), 30)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """FakeTelegram with an admin, a requester, an approver, a stranger and an approvals group."""
    async with FakeTelegram() as server:
        server.add_user(ADMIN, "Ada", "ada")
        server.add_user(REQUESTER, "Rex", "rex")
        server.add_user(APPROVER, "Pat", "pat")
        server.add_user(STRANGER, "Sam", "sam")
        server.add_group(APPROVALS, "Approvals")
        yield server


async def _bot(fake: FakeTelegram, tmp_path: Path, webhook: bool) -> Bot:
    env = {
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET,
        "FRONTDOOR_DATA_KEY": Fernet.generate_key().decode(),
        "DEMO_KEY": LEAKED,
    }
    config = _config(fake, tmp_path, webhook)
    app = App(config, env=env)
    await app.start()
    bot = Bot(fake, app, config, env)
    await asyncio.wait_for(bot.adapter.started.wait(), 30)
    return bot


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[Bot]:
    """The whole bot, started from config, polling the fake."""
    running = await _bot(fake, tmp_path, webhook=False)
    try:
        yield running
    finally:
        for c in fake.calls:
            print("CALL", c.method, c.status, json.dumps(c.params, default=str)[:300])
        await running.app.stop()
    assert fake.unanswered_callbacks() == []


async def _pair(bot: Bot, user: int) -> None:
    bot.fake.user_sends(user, "/run hello who=amy")
    told = await bot.said(user, "pairing code is")
    match = re.search(r"pairing code is ([A-Z0-9]{4}-[A-Z0-9]{4})", told.text)
    assert match is not None
    bot.fake.user_sends(ADMIN, f"/pair approve {match[1]}")
    await bot.said(user, "You are paired")


def _card(bot: Bot) -> StoredMessage:
    cards = [m for m in bot.fake.messages_to(APPROVALS) if m.callback_datas()]
    assert cards, "no card with buttons in the approvals chat"
    return cards[-1]


async def _new_card(bot: Bot, service: str) -> StoredMessage:
    before = len([m for m in bot.fake.messages_to(APPROVALS) if m.callback_datas()])
    bot.fake.user_sends(REQUESTER, f"/run restart_service service={service}")
    await bot.fake.wait_until(
        lambda: len([m for m in bot.fake.messages_to(APPROVALS) if m.callback_datas()]) > before,
        30,
    )
    card = _card(bot)
    assert all(len(d.encode()) <= 64 for d in card.callback_datas())
    return card


async def test_telegram_end_to_end(bot: Bot) -> None:
    """Pairing, a run, dedupe, approval with a refused presser, single execution, redaction."""
    fake = bot.fake
    await _pair(bot, REQUESTER)

    fake.user_sends(REQUESTER, "/run hello who=bob")
    await bot.said(REQUESTER, "hello, bob!")

    dup = fake.user_sends(REQUESTER, "/run hello who=dup")
    await bot.said(REQUESTER, "hello, dup!")
    fake.redeliver(dup)
    fake.user_sends(REQUESTER, "/run hello who=zed")
    await bot.said(REQUESTER, "hello, zed!")
    assert bot.count(REQUESTER, "hello, dup!") == 1

    card = await _new_card(bot, "api")
    approve = card.callback_datas()[0]
    fake.user_presses(REQUESTER, APPROVALS, card.message_id, approve)
    await bot.said(REQUESTER, "nothing changed")  # told privately, in their DM
    fake.user_presses(STRANGER, APPROVALS, card.message_id, approve)
    await bot.said(STRANGER, "cannot decide")
    assert card.callback_datas() == [approve, card.callback_datas()[1]]
    assert bot.count(REQUESTER, "restarting api") == 0

    fake.user_presses(APPROVER, APPROVALS, card.message_id, approve)
    await bot.said(REQUESTER, "restarting api ... done")
    await fake.wait_until(lambda: card.reply_markup is None, 30)
    assert "Approved by" in card.text
    fake.user_presses(APPROVER, APPROVALS, card.message_id, approve, require_button=False)
    await bot.said(APPROVER, "already decided")
    assert bot.count(REQUESTER, "restarting api") == 1

    fake.user_sends(REQUESTER, "/run leak")
    out = await bot.said(REQUESTER, "key=")
    assert LEAKED not in out.text
    assert LEAKED not in out.html
    assert "<b>bold</b> &" in out.text  # shown literally, not as formatting


async def test_concurrent_presses_run_once(bot: Bot) -> None:
    """Two approvers' taps delivered together (plus a double tap) run the request once."""
    fake = bot.fake
    await _pair(bot, REQUESTER)
    card = await _new_card(bot, "web")
    approve = card.callback_datas()[0]
    fake.user_presses(APPROVER, APPROVALS, card.message_id, approve)
    fake.user_presses(APPROVER, APPROVALS, card.message_id, approve)
    fake.user_presses(ADMIN, APPROVALS, card.message_id, approve)
    await bot.said(REQUESTER, "restarting web ... done")
    await fake.wait_until(lambda: not fake.unanswered_callbacks() and card.reply_markup is None)
    fake.user_sends(REQUESTER, "/run hello who=after")  # a later message flushes the queue
    await bot.said(REQUESTER, "hello, after!")
    assert bot.count(REQUESTER, "restarting web") == 1


async def test_press_after_restart_still_works(bot: Bot) -> None:
    """A card posted before a restart can be approved after it, and runs once."""
    fake = bot.fake
    await _pair(bot, REQUESTER)
    card = await _new_card(bot, "api")
    await bot.restart()
    fake.user_presses(APPROVER, APPROVALS, card.message_id, card.callback_datas()[0])
    await bot.said(REQUESTER, "restarting api ... done")
    await fake.wait_until(lambda: card.reply_markup is None, 30)
    assert bot.count(REQUESTER, "restarting api") == 1


async def test_webhook_mode_pairs_and_refuses_forgeries(fake: FakeTelegram, tmp_path: Path) -> None:
    """Over the webhook the bot pairs a user; posts without the secret are refused."""
    bot = await _bot(fake, tmp_path, webhook=True)
    try:
        url = bot.adapter.webhook_url
        assert fake.webhook == {"url": url, "secret": HOOK_SECRET}
        forged = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": ADMIN, "type": "private", "first_name": "Ada"},
                "from": {"id": ADMIN, "is_bot": False, "first_name": "Ada"},
                "text": "/pair approve AAAA-BBBB",
            },
        }
        async with aiohttp.ClientSession() as session:
            for headers in (
                {"Content-Type": "application/json"},
                {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "nope"},
            ):
                async with session.post(url, data=json.dumps(forged), headers=headers) as resp:
                    assert resp.status == 403
        await _pair(bot, REQUESTER)
        fake.user_sends(REQUESTER, "/run hello who=hook")
        await bot.said(REQUESTER, "hello, hook!")
        assert bot.count(ADMIN, "AAAA-BBBB") == 0
    finally:
        await bot.app.stop()


async def test_telegram_card_is_exact_and_a_revoke_withdraws_it(bot: Bot) -> None:
    """PII- and HTML-shaped arguments are shown exactly on the card; a revoke closes it and the tap runs nothing."""
    fake = bot.fake
    await _pair(bot, REQUESTER)
    fake.user_sends(
        REQUESTER, '/run add_member email=mallory@evil.example note="<b>x</b> & password=hunter2"'
    )
    await fake.wait_until(lambda: any(m.callback_datas() for m in fake.messages_to(APPROVALS)), 30)
    card = _card(bot)
    assert 'email = "mallory@evil.example"' in card.text
    assert 'note = "<b>x</b> & password=hunter2"' in card.text  # literal, not formatting
    assert "[REDACTED" not in card.text
    approve = card.callback_datas()[0]
    fake.user_sends(ADMIN, f"/revoke telegram:telegram:{REQUESTER} add_member")
    await fake.wait_until(lambda: card.reply_markup is None, 30)
    assert "Not run: the requester may not use add_member" in card.text
    assert "Expires" not in card.text
    await bot.said(REQUESTER, "withdrawn and will not run")
    await bot.said(APPROVALS, "withdrawn and will not run")
    fake.user_presses(APPROVER, APPROVALS, card.message_id, approve, require_button=False)
    await bot.said(APPROVER, "already decided")
    assert bot.count(REQUESTER, "added") == 0
