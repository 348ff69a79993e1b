"""A fake chat platform implementing our `Adapter` port in memory, for driving the whole bot in tests.

Tests hand inbound events straight to `App.handle` (no threads, no sockets) and
read what the bot said from `sent`. It is strict where every platform is: a
button token must be short and URL-safe, an edit must name a message it posted.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.base import Handler, PlatformError
from bot.types import Actor, Channel, ChannelKind, Inbound, InboundKind, MessageRef, Outcome

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass
class FakeChat:
    """Records outcomes; builds inbound events as a user of platform `platform`."""

    platform: str = "console"
    tenant: str = "local"
    sent: list[Outcome] = field(default_factory=list)
    fail_next: int = 0
    # called with each outcome as it is sent: lets a test act while the bot is mid-request
    on_send: Callable[[Outcome], Awaitable[None]] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _posted: set[str] = field(default_factory=set)
    _sent_event: asyncio.Event | None = None

    async def serve(self, handler: Handler) -> None:
        """Nothing to receive: tests call the handler themselves."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def send(self, outcome: Outcome) -> MessageRef | None:
        """Record the outcome; refuse malformed cards and edits of unknown messages."""
        if self.fail_next:
            self.fail_next -= 1
            raise PlatformError("fake outage", platform=self.platform, retry_after=1.0)
        card = outcome.card
        if card is not None and card.state == "pending":
            assert _TOKEN.match(card.approve_token) and _TOKEN.match(card.deny_token), (
                "bad button token"
            )
        self._wake()
        if self.on_send is not None:
            await self.on_send(outcome)
        if outcome.edit is not None:
            assert outcome.edit.message_id in self._posted, "edit of a message never posted"
            self.sent.append(outcome)
            return outcome.edit
        message_id = str(next(self._ids))
        self._posted.add(message_id)
        self.sent.append(outcome)
        who = outcome.to.channel_id or outcome.to.user_id
        return MessageRef(
            platform=self.platform, tenant=self.tenant, channel_id=who, message_id=message_id
        )

    def _wake(self) -> None:
        if self._sent_event is not None:
            self._sent_event.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 15) -> None:
        """Wait until `predicate()` holds, re-checking after every message sent; fail after `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            self._sent_event = self._sent_event or asyncio.Event()
            self._sent_event.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"condition not met within {timeout} s; sent: {[o.text for o in self.sent[-5:]]}"
                )
            try:
                await asyncio.wait_for(self._sent_event.wait(), remaining)
            except TimeoutError:
                continue

    # --- building events ------------------------------------------------------------------

    def message(
        self, user: str, text: str, *, channel: str | None = None, event_id: str | None = None
    ) -> Inbound:
        """A message from `user` in their DM (or in group `channel`)."""
        n = next(self._ids)
        actor = Actor(platform=self.platform, tenant=self.tenant, user_id=user, display_name=user)
        ch = Channel(
            platform=self.platform,
            tenant=self.tenant,
            channel_id=channel or user,
            kind=ChannelKind.GROUP if channel else ChannelKind.DM,
        )
        return Inbound(
            kind=InboundKind.MESSAGE,
            event_id=event_id or f"{self.platform}:test:{n}",
            actor=actor,
            channel=ch,
            received_at=datetime.now(UTC),
            text=text,
        )

    def press(self, user: str, token: str, *, event_id: str | None = None) -> Inbound:
        """A tap on the button carrying `token`, by `user`."""
        n = next(self._ids)
        actor = Actor(platform=self.platform, tenant=self.tenant, user_id=user, display_name=user)
        ch = Channel(
            platform=self.platform, tenant=self.tenant, channel_id=user, kind=ChannelKind.DM
        )
        return Inbound(
            kind=InboundKind.BUTTON,
            event_id=event_id or f"{self.platform}:press:{n}",
            actor=actor,
            channel=ch,
            received_at=datetime.now(UTC),
            token=token,
        )

    # --- reading what was said ------------------------------------------------------------

    def to(self, user: str) -> list[Outcome]:
        """Everything addressed to `user` (DM or reply in their channel)."""
        return [o for o in self.sent if user in (o.to.user_id, o.to.channel_id)]

    def texts(self, user: str) -> list[str]:
        """The text (and code) of everything addressed to `user`."""
        return [(o.text + ("\n" + o.code if o.code else "")) for o in self.to(user)]

    def last(self, user: str) -> str:
        """The latest text addressed to `user`."""
        texts = self.texts(user)
        assert texts, f"nothing was sent to {user}"
        return texts[-1]

    def cards(self, user: str) -> list[Outcome]:
        """Pending approval cards addressed to `user`."""
        return [o for o in self.to(user) if o.card is not None and o.edit is None]

    def clear(self) -> None:
        """Forget what was sent so far."""
        self.sent.clear()
