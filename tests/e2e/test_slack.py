"""The whole bot behind real slack-bolt, against FakeSlack, in Socket Mode and HTTP mode.

One scenario per mode: pairing, a low-risk run, an approval card, a refused presser,
an approver who runs the request exactly once, the card updated without buttons,
a retried event deduplicated, and hostile tool output arriving harmless.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from adapters.slack.adapter import SlackAdapter
from bot.app import App
from bot.config import parse_config
from tests.fakes.slack_api import Call, FakeSlack

APPROVALS = "C0APPROVALS"
LEAKED = "xoxb-1111111111-2222222222-SECRETSECRETsecretSECRET"
HOME = "T0HOME"


def _config(fake: FakeSlack, mode: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "platforms": {
            "console": {"enabled": False},
            "slack": {
                "enabled": True,
                "mode": mode,
                "bot_token": "${SLACK_BOT_TOKEN}",
                "app_token": "${SLACK_APP_TOKEN}",
                "signing_secret": "${SLACK_SIGNING_SECRET}",
                "api_base_url": fake.api_url,
                "http": {"host": "127.0.0.1", "port": 0, "path": "/slack/events"},
                "approvals_channel": APPROVALS,
            },
        },
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
                "code": "import os\nprint('<!channel> <@U2> key=' + os.environ['DEMO_KEY'])\n",
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
        "roles": {"admins": [f"slack:{HOME}:UADMIN"], "approvers": [f"slack:{HOME}:UAPPR"]},
        "autonomy": {"default": "supervised"},
    }


@dataclass
class Bot:
    """The running bot and how to reach it."""

    fake: FakeSlack
    app: App
    adapter: SlackAdapter
    mode: str

    async def deliver(
        self, kind: str, payload: dict[str, Any], retry_num: int | None = None
    ) -> None:
        """Deliver as Slack would in this mode and check it was accepted."""
        if self.mode == "http":
            url = f"http://127.0.0.1:{self.adapter.http_port}/slack/events"
            result = await self.fake.deliver_http(url, kind, payload, retry_num=retry_num)
            assert result.status == 200, result.body
        else:
            envelope = await self.fake.deliver_socket(kind, payload, retry_num=retry_num)
            await self.fake.wait_ack(envelope)

    async def said(self, channel: str, needle: str, timeout: float = 30) -> Call:
        """Wait for a message in `channel` containing `needle`."""
        return await self.fake.wait_for_call(
            "chat.postMessage",
            lambda c: c.params.get("channel") == channel and needle in c.params.get("text", ""),
            timeout,
        )

    def count(self, channel: str, needle: str) -> int:
        """How many messages in `channel` contain `needle`."""
        return sum(
            1
            for c in self.fake.calls_of("chat.postMessage")
            if c.params.get("channel") == channel and needle in c.params.get("text", "")
        )

    async def responded(self, needle: str, timeout: float = 30) -> dict[str, Any]:
        """Wait for a response_url post containing `needle`."""
        return await self.fake.wait_for_response_text(needle, timeout)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """FakeSlack with a requester, a stranger, an admin, an approver and an approvals channel."""
    server = FakeSlack(team_id=HOME)
    await server.start()
    for uid, name in (("U1", "alice"), ("U2", "bob"), ("UADMIN", "admin"), ("UAPPR", "carol")):
        server.add_user(uid, name=name)
    server.add_channel(APPROVALS, members=("U1", "U2", "UADMIN", "UAPPR"))
    yield server
    await server.close()
    assert not server.unacked(), "every Socket Mode envelope must be acknowledged"


@pytest.fixture(params=["socket", "http"])
async def bot(
    request: pytest.FixtureRequest, fake: FakeSlack, tmp_path: Path
) -> AsyncIterator[Bot]:
    """The whole bot, started from config, serving Slack in one mode."""
    config = parse_config(_config(fake, request.param, tmp_path), base_dir=tmp_path)
    env = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_SIGNING_SECRET": fake.signing_secret,
        "FRONTDOOR_DATA_KEY": Fernet.generate_key().decode(),
        "DEMO_KEY": LEAKED,
    }
    app = App(config, env=env)
    await app.start()
    try:
        (adapter,) = app.adapters
        assert isinstance(adapter, SlackAdapter)
        await asyncio.wait_for(adapter.ready.wait(), 30)
        if request.param == "socket":
            await fake.wait_connections(1)
        yield Bot(fake, app, adapter, request.param)
    finally:
        # the fake's call log, which pytest shows only when the test failed
        for c in fake.calls:
            print("CALL", c.method, c.ok, c.error, json.dumps(c.params)[:300])
        for r in fake.state.responses:
            print("RESP", json.dumps(r)[:300])
        await app.stop()


async def _pair(bot: Bot, user: str) -> None:
    fake = bot.fake
    await bot.deliver("events", fake.dm_event(user, "run hello who=amy"))
    told = await bot.said("D" + user, "pairing code is")
    match = re.search(r"pairing code is ([A-Z0-9]{4}-[A-Z0-9]{4})", told.params["text"])
    assert match is not None
    await bot.deliver(
        "commands", fake.slash_command("UADMIN", f"pair approve {match[1]}", channel=APPROVALS)
    )
    await bot.responded("Paired")


def _card_ts(fake: FakeSlack) -> str:
    for (channel, ts), msg in fake.state.messages.items():
        if channel == APPROVALS and any(b["type"] == "actions" for b in msg["blocks"]):
            return ts
    raise AssertionError("no card with buttons in the approvals channel")


async def test_slack_end_to_end(bot: Bot) -> None:
    """Pairing, a low-risk run, approval with refused pressers, dedupe and harmless output."""
    fake = bot.fake
    await _pair(bot, "U1")

    await bot.deliver("events", fake.dm_event("U1", "run hello who=bob"))
    await bot.said("DU1", "hello, bob!")

    retried = fake.dm_event("U1", "run hello who=dup")
    await bot.deliver("events", retried)
    await bot.deliver("events", retried, retry_num=1)
    await bot.said("DU1", "hello, dup!")
    await bot.deliver("events", fake.dm_event("U1", "run hello who=zed"))
    await bot.said("DU1", "hello, zed!")
    assert bot.count("DU1", "hello, dup!") == 1

    await bot.deliver("events", fake.dm_event("U1", "run restart_service service=api"))
    await bot.fake.wait_for_call(
        "chat.postMessage", lambda c: c.params.get("channel") == APPROVALS, 30
    )
    ts = _card_ts(fake)
    await bot.deliver("actions", fake.block_action("U1", APPROVALS, ts, "fd_approve"))
    await bot.responded("nothing changed")
    assert any(b["type"] == "actions" for b in fake.message(APPROVALS, ts)["blocks"])
    assert bot.count("DU1", "restarting api") == 0

    outsider = fake.block_action("UAPPR", APPROVALS, ts, "fd_approve")
    outsider["user"]["team_id"] = "T0OTHER"  # same user id, another workspace: no grants
    await bot.deliver("actions", outsider)
    await bot.responded("not paired")
    assert any(b["type"] == "actions" for b in fake.message(APPROVALS, ts)["blocks"])

    press = fake.block_action("UAPPR", APPROVALS, ts, "fd_approve")
    double_tap = fake.block_action("UAPPR", APPROVALS, ts, "fd_approve")
    await bot.deliver("actions", press)
    await bot.said("DU1", "restarting api ... done")
    update = await fake.wait_for_call("chat.update", lambda c: c.params.get("ts") == ts, 30)
    assert "blocks" in update.params
    card = fake.message(APPROVALS, ts)
    assert all(b["type"] != "actions" for b in card["blocks"])
    assert "Approved" in json.dumps(card["blocks"])
    await bot.deliver("actions", double_tap)
    await bot.responded("already decided")
    assert bot.count("DU1", "restarting api") == 1

    await bot.deliver("events", fake.dm_event("U1", "run leak"))
    out = await bot.said("DU1", "key=")
    dumped = json.dumps(out.params)
    assert LEAKED not in dumped
    assert "<!channel>" not in dumped
    assert "<@U2>" not in dumped
    assert "&lt;!channel&gt;" in out.params["text"]
    assert [(c.method, c.error) for c in fake.calls if not c.ok] == []


async def test_slack_card_is_exact_and_a_ban_withdraws_it(bot: Bot) -> None:
    """The card shows PII-shaped and markup-shaped arguments exactly (escaped); a ban closes it at once."""
    fake = bot.fake
    await _pair(bot, "U1")
    note = "<!channel> & <@U2> +1 415 555 0100"
    await bot.deliver(
        "events", fake.dm_event("U1", f'run add_member email=mallory@evil.example note="{note}"')
    )
    await fake.wait_for_call("chat.postMessage", lambda c: c.params.get("channel") == APPROVALS, 30)
    ts = _card_ts(fake)
    blocks = json.dumps(fake.message(APPROVALS, ts)["blocks"])
    assert "mallory@evil.example" in blocks and "[REDACTED" not in blocks
    assert "&lt;!channel&gt; &amp; &lt;@U2&gt; +1 415 555 0100" in blocks
    assert "<!channel>" not in blocks and "<@U2>" not in blocks
    in_flight = fake.block_action("UAPPR", APPROVALS, ts, "fd_approve")
    await bot.deliver(
        "commands", fake.slash_command("UADMIN", f"ban slack:{HOME}:U1", channel=APPROVALS)
    )
    await fake.wait_for_call("chat.update", lambda c: c.params.get("ts") == ts, 30)
    card = json.dumps(fake.message(APPROVALS, ts)["blocks"])
    assert '"actions"' not in card and "Not run: the requester is banned" in card
    assert "Expires" not in card
    await bot.said(APPROVALS, "withdrawn and will not run: the requester is banned")
    await bot.said("DU1", "withdrawn and will not run")
    await bot.deliver("actions", in_flight)
    await bot.responded("already decided")
    assert bot.count("DU1", "added") == 0
