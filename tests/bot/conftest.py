"""Fixtures for driving the whole bot in-process: a config from the example, a clock tests move, an App on a FakeChat."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import App
from bot.config import Config, parse_config
from tests.fakes.chat import FakeChat

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE: dict[str, Any] = yaml.safe_load((ROOT / "config.example.yaml").read_text())
ENV = {"DEMO_API_KEY": "demo-secret-value-8c1f2e9a77"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def make_config(tmp_path: Path, **sections: Any) -> Config:
    """The example config with its database under tmp_path and the given sections replaced."""
    data = copy.deepcopy(EXAMPLE)
    data["storage"]["path"] = str(tmp_path / "fd.db")
    for key, value in sections.items():
        data[key] = value
    return parse_config(data, base_dir=tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def chat() -> FakeChat:
    return FakeChat()


AppFactory = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_app(tmp_path: Path, clock: Clock, chat: FakeChat) -> AsyncIterator[AppFactory]:
    """Start Apps on the FakeChat (several may be started in turn, e.g. to restart); all are stopped at the end."""
    apps: list[App] = []

    async def start(config: Config | None = None, *, env: dict[str, str] | None = None) -> App:
        app = App(
            config or make_config(tmp_path),
            env=env if env is not None else ENV,
            adapters=[chat],
            clock=clock,
        )
        await app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        await app.stop()


async def pair(app: App, chat: FakeChat, user: str, admin: str = "admin") -> None:
    """Pair `user` through the real flow: they write, the admin approves their code."""
    import re

    await app.handle(chat.message(user, "hello"))
    code = re.search(r"pairing code is (\S+) ", chat.last(user))
    assert code is not None, chat.last(user)
    await app.handle(chat.message(admin, f"/pair approve {code.group(1)}"))
    assert "You are paired" in chat.last(user)
