"""The console front: a line-based chat on stdin/stdout, for trying frontdoor out and for scripts.

Each input line `NAME: TEXT` is a message from the user `console:local:NAME` in
their own DM with the bot (`/commands` included). The line `NAME: /press TOKEN`
taps the button that carries TOKEN, as that user. Every output line starts with
`-> NAME: ` for the user it is addressed to; approval cards print their buttons
as `[Approve TOKEN] [Deny TOKEN]`. At end of input the console finishes the work
in flight and `serve` returns.

Lines are handled one at a time, in the order they were read, so a scripted
session gets its answers in a predictable order (a parked request returns at
once; only a running tool holds the next line back, up to its timeout).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from adapters.base import Handler
from bot.types import (
    Actor,
    ApprovalCard,
    CardState,
    Channel,
    ChannelKind,
    Inbound,
    InboundKind,
    MessageRef,
    Outcome,
)

__all__ = ["ConsoleAdapter", "parse_line", "render"]

log = logging.getLogger(__name__)

PLATFORM = "console"
TENANT = "local"
_LINE = re.compile(r"^\s*([A-Za-z0-9_.-]{1,32})\s*:\s?(.*)$")
_PRESS = re.compile(r"^/press\s+(\S+)\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def parse_line(line: str, *, event_id: str, now: datetime) -> Inbound | None:
    """An `Inbound` for one console line, or None when the line is not `NAME: TEXT`."""
    m = _LINE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    name, text = m.group(1), m.group(2).strip()
    actor = Actor(platform=PLATFORM, tenant=TENANT, user_id=name, display_name=name)
    channel = Channel(platform=PLATFORM, tenant=TENANT, channel_id=name, kind=ChannelKind.DM)
    press = _PRESS.match(text)
    if press is not None:
        return Inbound(
            kind=InboundKind.BUTTON,
            event_id=event_id,
            actor=actor,
            channel=channel,
            received_at=now,
            token=press.group(1),
        )
    return Inbound(
        kind=InboundKind.MESSAGE,
        event_id=event_id,
        actor=actor,
        channel=channel,
        received_at=now,
        text=text,
    )


def _clean(text: str) -> str:
    return _CONTROL.sub("?", text)


_DECIDED = {
    CardState.APPROVED: "Approved by {who}",
    CardState.DENIED: "Denied by {who}",
    CardState.EXPIRED: "Expired without a decision; not run",
    CardState.CANCELLED: "Cancelled by {who}; not run",
}


def _card_lines(card: ApprovalCard) -> list[str]:
    lines = [f"[approval {card.approval_id}] {card.title}", *(f"  {line}" for line in card.lines)]
    if card.state is CardState.PENDING:
        lines.append(f"[Approve {card.approve_token}] [Deny {card.deny_token}]")
    else:
        lines.append("  " + _DECIDED[card.state].format(who=card.decided_by or "someone"))
    return lines


def render(outcome: Outcome) -> list[str]:
    """The output lines for one outcome, each `-> NAME: ...`."""
    who = outcome.to.user_id or outcome.to.channel_id
    body: list[str] = []
    if outcome.card is not None:
        if outcome.edit is not None:
            body.append(f"(card {outcome.card.approval_id} updated)")
        body.extend(_card_lines(outcome.card))
    else:
        body.extend(outcome.text.splitlines() or [""])
        if outcome.code:
            body.append("```")
            body.extend(outcome.code.splitlines())
            body.append("```")
    return [f"-> {who}: {_clean(line)}" for line in body]


class ConsoleAdapter:
    """Reads `NAME: TEXT` lines, prints `-> NAME: ...` lines."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout
        self._clock = clock or (lambda: datetime.now(UTC))
        self._ids = itertools.count(1)
        self._run = secrets.token_hex(4)
        self._stopping = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._lines: asyncio.Queue[str | None] | None = None

    async def serve(self, handler: Handler) -> None:
        """Read lines until end of input (or `stop()`), handling each in turn."""
        while not self._stopping.is_set():
            line = await self._readline()
            if line is None:
                break
            if not line.strip():
                continue
            inbound = parse_line(
                line, event_id=f"console:{self._run}:{next(self._ids)}", now=self._clock()
            )
            if inbound is None:
                await self._write(
                    ["-> console: lines look like NAME: TEXT (for example alice: /help)"]
                )
                continue
            try:
                await handler(inbound)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("console handler failed")

    async def _readline(self) -> str | None:
        if self._lines is None:
            self._lines = asyncio.Queue()
            loop = asyncio.get_running_loop()
            lines = self._lines

            def pump() -> None:  # a daemon thread, so a blocked read never holds up exit
                for line in iter(self._in.readline, ""):
                    loop.call_soon_threadsafe(lines.put_nowait, line)
                loop.call_soon_threadsafe(lines.put_nowait, None)

            threading.Thread(target=pump, name="console-stdin", daemon=True).start()
        getter = asyncio.ensure_future(self._lines.get())
        stopper = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if getter not in done:
            getter.cancel()
            return None
        stopper.cancel()
        return getter.result()

    async def stop(self) -> None:
        """Stop reading; `serve` returns after the work in flight."""
        self._stopping.set()

    async def send(self, outcome: Outcome) -> MessageRef | None:
        """Print the outcome; cards get a reference so they can be edited (re-printed)."""
        await self._write(render(outcome))
        who = outcome.to.user_id or outcome.to.channel_id
        if outcome.edit is not None:
            return outcome.edit
        return MessageRef(
            platform=PLATFORM, tenant=TENANT, channel_id=who, message_id=str(next(self._ids))
        )

    async def _write(self, lines: list[str]) -> None:
        async with self._write_lock:
            self._out.write("\n".join(lines) + "\n")
            self._out.flush()
