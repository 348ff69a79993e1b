"""Fixtures: a FakeTelegram server and a real PTB-driven TelegramAdapter serving against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import pytest

from adapters.telegram.adapter import TelegramAdapter
from bot.types import Inbound
from tests.fakes.telegram_api import FakeTelegram

ALICE = 1001  # admin
BOB = 1002
CAROL = 1003  # never started the bot
GROUP = -100500
USER_COMMANDS = (("run", "Run a tool"), ("help", "What I can do"))
ADMIN_COMMANDS = (("pair", "Approve or reject a pairing"),)


class Recorder:
    """A tiny fake of the bot: records every Inbound; optionally reacts to it."""

    def __init__(self) -> None:
        self.inbounds: list[Inbound] = []
        self.react: Callable[[Inbound], Awaitable[None]] | None = None
        self._cond = asyncio.Condition()

    async def __call__(self, inbound: Inbound) -> None:
        """Record, wake waiters, then react (reaction errors reach the adapter)."""
        async with self._cond:
            self.inbounds.append(inbound)
            self._cond.notify_all()
        if self.react is not None:
            await self.react(inbound)

    async def wait_for(self, count: int, timeout: float = 5) -> list[Inbound]:
        """Wait until at least `count` inbounds have arrived."""
        async with self._cond:
            await asyncio.wait_for(
                self._cond.wait_for(lambda: len(self.inbounds) >= count), timeout
            )
        return list(self.inbounds)


@dataclass
class Security:
    """Collects security events reported by the adapter."""

    events: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    cond: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __call__(self, name: str, details: Mapping[str, object]) -> None:
        """Record one event."""
        async with self.cond:
            self.events.append((name, dict(details)))
            self.cond.notify_all()

    async def wait_for(self, count: int, timeout: float = 5) -> None:
        """Wait until at least `count` events were reported."""
        async with self.cond:
            await asyncio.wait_for(self.cond.wait_for(lambda: len(self.events) >= count), timeout)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    """A fake Telegram with Alice, Bob, Carol (never started) and one group."""
    async with FakeTelegram() as fake:
        fake.add_user(ALICE, "Alice", "alice")
        fake.add_user(BOB, "Bob")
        fake.add_user(CAROL, "Carol", "carol", started=False)
        fake.add_group(GROUP, "Ops")
        yield fake


@pytest.fixture
def security() -> Security:
    """A recording security-event hook."""
    return Security()


def make_adapter(tg: FakeTelegram, security: Security, **kw: object) -> TelegramAdapter:
    """An adapter pointed at the fake, with test-friendly defaults."""
    args: dict[str, object] = {
        "token": tg.token,
        "api_base_url": tg.url,
        "commands": USER_COMMANDS,
        "admin_commands": ADMIN_COMMANDS,
        "admin_user_ids": (ALICE,),
        "on_security_event": security,
        "poll_timeout": 2,
        "max_retries": 2,
    }
    args.update(kw)
    return TelegramAdapter(**args)  # type: ignore[arg-type]


@dataclass
class Running:
    """A serving adapter and what it handed to the bot."""

    adapter: TelegramAdapter
    bot: Recorder
    task: asyncio.Task[None]


async def start(adapter: TelegramAdapter) -> Running:
    """Run `serve` in a task and wait until it receives updates."""
    bot = Recorder()
    task = asyncio.create_task(adapter.serve(bot))
    started = asyncio.create_task(adapter.started.wait())
    done, _ = await asyncio.wait({task, started}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        started.cancel()
        task.result()  # raises what serve raised
    assert started in done, "adapter did not start"
    return Running(adapter=adapter, bot=bot, task=task)


async def finish(running: Running) -> None:
    """Stop the adapter and wait for serve to return."""
    await running.adapter.stop()
    await asyncio.wait_for(running.task, 10)


@pytest.fixture
async def running(tg: FakeTelegram, security: Security) -> AsyncIterator[Running]:
    """A polling adapter serving against the fake; every button press must end up answered."""
    run = await start(make_adapter(tg, security))
    yield run
    await finish(run)
    assert tg.unanswered_callbacks() == []
