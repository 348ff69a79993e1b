"""Floods of unauthenticated requests against the real webhook servers cost a counter, not a row.

The whole bot runs from config with its Telegram webhook (python-telegram-bot against
FakeTelegram) or its Slack HTTP endpoint (slack-bolt against FakeSlack). Thousands of
requests without the secret, with bad or stale signatures, with the wrong method or an
oversized body are refused; the audit log grows by at most a few summary rows, each naming
the busiest sources, and the admins are alerted once.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.fernet import Fernet

from adapters.slack.adapter import SlackAdapter
from adapters.telegram.adapter import TelegramAdapter
from bot.app import App
from bot.config import parse_config
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram

FLOOD = 2400
ADMIN_TG = 1001
HOME = "T0HOME"
HOOK_SECRET = "flood-hook_SECRET-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _base(tmp_path: Path, platforms: dict[str, Any], admin: str) -> dict[str, Any]:
    return {
        "platforms": {"console": {"enabled": False}, **platforms},
        "storage": {"path": str(tmp_path / "frontdoor.db")},
        "tools": [],
        "roles": {"admins": [admin], "approvers": []},
        "audit": {"flood_alert": 500},
    }


async def _hammer(
    count: int, send: Callable[[aiohttp.ClientSession, int], Awaitable[int]]
) -> Counter[int]:
    """`count` requests, 50 in flight at a time; the status codes seen."""
    statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession() as session:
        for start in range(0, count, 50):
            got = await asyncio.gather(
                *(send(session, i) for i in range(start, min(count, start + 50)))
            )
            statuses.update(got)
    return statuses


async def _rows(app: App) -> list[dict[str, Any]]:
    assert app.db is not None
    return [json.loads(r.to_json()) for r in await app.db.audit.tail(100_000)]


async def _summaries(app: App, before: int) -> list[dict[str, Any]]:
    """Drain the flood counter as the minute job would, then the rows added since `before`."""
    assert app.jobs is not None
    await app.jobs.audit_minute(datetime.now(UTC) + timedelta(minutes=2))
    return [r for r in await _rows(app) if r["seq"] > before]


async def test_telegram_webhook_flood_adds_a_handful_of_rows(tmp_path: Path) -> None:
    """Thousands of refused webhook posts become per-minute summaries and one admin alert."""
    async with FakeTelegram() as fake:
        fake.add_user(ADMIN_TG, "Ada", "ada")
        port = _free_port()
        telegram = {
            "enabled": True,
            "token": "${TELEGRAM_BOT_TOKEN}",
            "api_base_url": fake.url,
            "webhook": {
                "enabled": True,
                "listen": "127.0.0.1",
                "port": port,
                "path": "/tg",
                "url": f"http://127.0.0.1:{port}/tg",
                "secret_token": "${TELEGRAM_WEBHOOK_SECRET}",
                "max_body_bytes": 4096,
            },
        }
        config = parse_config(
            _base(tmp_path, {"telegram": telegram}, f"telegram:telegram:{ADMIN_TG}"),
            base_dir=tmp_path,
        )
        env = {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET,
            "FRONTDOOR_DATA_KEY": Fernet.generate_key().decode(),
        }
        app = App(config, env=env)
        await app.start()
        try:
            (adapter,) = app.adapters
            assert isinstance(adapter, TelegramAdapter)
            await asyncio.wait_for(adapter.started.wait(), 30)
            url = f"http://127.0.0.1:{port}/tg"
            assert app.db is not None
            before = (await app.db.audit.head())[0]
            update = json.dumps({"update_id": 1, "message": {"text": "/pair approve X"}})

            async def send(session: aiohttp.ClientSession, i: int) -> int:
                kind = i % 4
                headers = {"Content-Type": "application/json"}
                if kind == 1:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = "wrong"
                if kind == 2:
                    async with session.get(url) as resp:
                        return resp.status
                body = "x" * 8192 if kind == 3 else update
                if kind == 3:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = HOOK_SECRET
                async with session.post(url, data=body, headers=headers) as resp:
                    return resp.status

            started = time.monotonic()
            statuses = await _hammer(FLOOD, send)
            assert set(statuses) == {403, 405, 413}, statuses
            assert app.floods.pending() == FLOOD
            assert (await app.db.audit.head())[0] == before  # not one row per request
            added = await _summaries(app, before)
            assert 1 <= len(added) <= 3, [r["reason"] for r in added]
            assert all(r["reason"] == "unauthenticated_requests" for r in added)
            assert sum(r["detail"]["total"] for r in added) == FLOOD
            assert "127.0.0.1" in added[0]["detail"]["top_sources"]
            assert set().union(*(r["detail"]["reasons"] for r in added)) == {
                "secret_missing",
                "secret",
                "method",
                "too_large",
            }
            assert time.monotonic() - started < 120
            alerts = [m for m in fake.messages_to(ADMIN_TG) if "unauthenticated" in m.text]
            assert len(alerts) == 1  # once per flood, not once per minute of it
        finally:
            await app.stop()


async def test_slack_http_flood_adds_a_handful_of_rows(tmp_path: Path) -> None:
    """Thousands of unsigned, forged, stale or oversized Slack requests: a few summary rows."""
    fake = FakeSlack(team_id=HOME)
    await fake.start()
    fake.add_user("UADMIN", name="admin")
    slack = {
        "enabled": True,
        "mode": "http",
        "bot_token": "${SLACK_BOT_TOKEN}",
        "signing_secret": "${SLACK_SIGNING_SECRET}",
        "api_base_url": fake.api_url,
        "http": {"host": "127.0.0.1", "port": 0, "path": "/slack/events", "max_body_bytes": 4096},
    }
    config = parse_config(
        _base(tmp_path, {"slack": slack}, f"slack:{HOME}:UADMIN"), base_dir=tmp_path
    )
    env = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": fake.signing_secret,
        "FRONTDOOR_DATA_KEY": Fernet.generate_key().decode(),
    }
    app = App(config, env=env)
    await app.start()
    try:
        (adapter,) = app.adapters
        assert isinstance(adapter, SlackAdapter)
        await asyncio.wait_for(adapter.ready.wait(), 30)
        url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
        assert app.db is not None
        before = (await app.db.audit.head())[0]
        body = b'{"type":"event_callback","event":{"type":"message","text":"hi"}}'

        async def send(session: aiohttp.ClientSession, i: int) -> int:
            now = str(int(time.time()))
            headers = {"Content-Type": "application/json"}
            data = body
            kind = i % 4
            if kind == 1:
                headers |= {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64}
            elif kind == 2:
                stale = str(int(time.time()) - 3600)
                headers |= {
                    "X-Slack-Request-Timestamp": stale,
                    "X-Slack-Signature": fake.sign(body, stale),
                }
            elif kind == 3:
                data = b"x" * 8192
            async with session.post(url, data=data, headers=headers) as resp:
                return resp.status

        statuses = await _hammer(FLOOD, send)
        assert set(statuses) == {401, 413}, statuses
        assert (await app.db.audit.head())[0] == before  # not one row per request
        added = await _summaries(app, before)
        assert 1 <= len(added) <= 3, [r["reason"] for r in added]
        assert sum(r["detail"]["total"] for r in added) == FLOOD
        assert set().union(*(r["detail"]["reasons"] for r in added)) == {
            "unsigned",
            "bad_signature",
            "stale_timestamp",
            "too_large",
        }
        await fake.wait_for_call(
            "chat.postMessage",
            lambda c: "unauthenticated requests" in c.params.get("text", ""),
            30,
        )
        alerts = [
            c
            for c in fake.calls_of("chat.postMessage")
            if "unauthenticated requests" in c.params.get("text", "")
        ]
        assert len(alerts) == 1
    finally:
        await app.stop()
        await fake.close()
