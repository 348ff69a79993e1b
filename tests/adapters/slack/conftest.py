"""Fixtures for the Slack adapter tests: a started FakeSlack and a serving SlackAdapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.slack.adapter import SlackAdapter
from bot.types import Address, Inbound
from tests.fakes.slack_api import Delivery, FakeSlack

OTHER_TEAM = "T0OTHER"
GENERAL = "C0GENERAL"


class Recorder:
    """A tiny fake of the bot: records every Inbound, optionally replies through the adapter."""

    def __init__(self) -> None:
        self.inbounds: list[Inbound] = []
        self.reply: Callable[[Inbound], Any] | None = None
        self._changed = asyncio.Condition()

    async def __call__(self, inbound: Inbound) -> None:
        self.inbounds.append(inbound)
        async with self._changed:
            self._changed.notify_all()
        if self.reply is not None:
            await self.reply(inbound)

    async def wait_count(self, count: int, timeout: float = 5) -> list[Inbound]:
        """Wait until `count` Inbounds arrived; return them all."""
        async with asyncio.timeout(timeout), self._changed:
            while len(self.inbounds) < count:
                await self._changed.wait()
        return self.inbounds


@dataclass
class Security:
    """Security events reported by the adapter."""

    events: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __call__(self, kind: str, details: Any) -> None:
        self.events.append((kind, dict(details)))
        async with self.changed:
            self.changed.notify_all()

    async def wait_count(
        self, count: int, timeout: float = 5
    ) -> list[tuple[str, dict[str, object]]]:
        """Wait until `count` events were reported."""
        async with asyncio.timeout(timeout), self.changed:
            while len(self.events) < count:
                await self.changed.wait()
        return self.events


@dataclass
class Running:
    """A serving adapter wired to the fake."""

    fake: FakeSlack
    adapter: SlackAdapter
    recorder: Recorder
    security: Security
    mode: str
    task: asyncio.Task[None]

    @property
    def url(self) -> str:
        """The adapter's HTTP endpoint (HTTP mode)."""
        return f"http://127.0.0.1:{self.adapter.http_port}/slack/events"

    async def deliver(
        self, kind: str, payload: dict[str, Any], *, retry_num: int | None = None
    ) -> Delivery | Any:
        """Deliver as Slack would in this mode; HTTP returns the answer, Socket Mode the ack."""
        if self.mode == "http":
            return await self.fake.deliver_http(self.url, kind, payload, retry_num=retry_num)
        envelope = await self.fake.deliver_socket(kind, payload, retry_num=retry_num)
        return await self.fake.wait_ack(envelope, timeout=3)

    def home(self, **kwargs: Any) -> Address:
        """An address in the home workspace."""
        return Address(platform="slack", tenant=self.fake.team_id, **kwargs)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A started FakeSlack with users U1, U2 (home team), UX (another team) and #general."""
    server = FakeSlack()
    await server.start()
    server.add_user("U1", name="alice")
    server.add_user("U2", name="bob")
    server.add_user("UX", team_id=OTHER_TEAM, name="mallory")
    server.add_channel(GENERAL, members=("U1", "U2", "UX"))
    yield server
    await server.close()
    assert not server.unacked(), "every Socket Mode envelope must be acknowledged"


async def start_adapter(fake: FakeSlack, mode: str, **overrides: Any) -> Running:
    """Build a SlackAdapter against `fake` and run `serve` until it is ready."""
    security = Security()
    kwargs: dict[str, Any] = {
        "bot_token": fake.bot_token,
        "mode": mode,
        "app_token": fake.app_token,
        "signing_secret": fake.signing_secret,
        "api_base_url": fake.api_url,
        "http_port": 0,
        "on_security_event": security,
        "max_retries": 2,
    }
    kwargs.update(overrides)
    adapter = SlackAdapter(**kwargs)
    recorder = Recorder()
    task = asyncio.create_task(adapter.serve(recorder))
    ready = asyncio.create_task(adapter.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        ready.cancel()
        task.result()
    assert ready in done, "adapter did not become ready"
    if mode == "socket":
        await fake.wait_connections(1)
    return Running(fake, adapter, recorder, security, mode, task)


async def stop_adapter(running: Running) -> None:
    """Stop the adapter and wait for `serve` to return."""
    await running.adapter.stop()
    await asyncio.wait_for(running.task, 10)


@pytest.fixture(params=["http", "socket"])
async def running(request: pytest.FixtureRequest, fake: FakeSlack) -> AsyncIterator[Running]:
    """A serving adapter, once per mode."""
    run = await start_adapter(fake, request.param)
    yield run
    await stop_adapter(run)


@pytest.fixture
async def http(fake: FakeSlack) -> AsyncIterator[Running]:
    """A serving adapter in HTTP mode."""
    run = await start_adapter(fake, "http", max_body_bytes=64 * 1024)
    yield run
    await stop_adapter(run)


@pytest.fixture
async def socket(fake: FakeSlack) -> AsyncIterator[Running]:
    """A serving adapter in Socket Mode."""
    run = await start_adapter(fake, "socket")
    yield run
    await stop_adapter(run)
