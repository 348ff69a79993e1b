"""The port every platform front implements, and the one error it raises.

An adapter verifies where an event came from, converts it to an `Inbound`, and
hands it to the bot's handler; it posts `Outcome`s back, escaped for its platform.
Exceptions of a platform SDK never cross this boundary: they become `PlatformError`.

    PlatformError          a platform call failed (retry_after set when rate-limited)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.types import Inbound, MessageRef, Outcome

__all__ = ["Adapter", "Handler", "PlatformError"]

Handler = Callable[[Inbound], Awaitable[None]]


class PlatformError(Exception):
    """A platform call failed. The message never carries a token or a user's text."""

    def __init__(self, message: str, *, platform: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.platform = platform
        self.retry_after = retry_after


class Adapter(Protocol):
    """A platform front."""

    platform: str

    async def serve(self, handler: Handler) -> None:
        """Receive events and pass each to `handler` until `stop()` (or, for the console, end of input).

        Returns once receiving has ended and every handler call it started has finished.
        """
        ...

    async def stop(self) -> None:
        """Stop receiving; `serve` then returns."""
        ...

    async def send(self, outcome: Outcome) -> MessageRef | None:
        """Post (or edit, when `outcome.edit` is set) one message; return a reference to it."""
        ...
