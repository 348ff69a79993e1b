"""The one way out: every outcome is redacted here, then handed to its platform's adapter.

Nothing reaches an adapter without passing the redactor (known secret values,
credential formats, PII); adapters then escape for their platform. Approval cards
are the one exemption: they show the exact request an approver decides, so only
configured secret values are hidden on them (`redact_card`). Counts of
redactions per kind go to the audit log. A platform failure is logged and
audited, never raised into the pipeline: the decision has already been made.

Before each send, the pending audit rows of the request being handled are written
(`storage.effects.before_effect`, set by the pipeline): if they cannot be, that
raises and nothing is sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from adapters.base import Adapter, PlatformError
from bot.errors import where
from bot.types import ApprovalCard, MessageRef, Outcome
from storage.audit import AuditEvent
from storage.effects import before_effect

if TYPE_CHECKING:
    from bot.pipeline import AuditSink

__all__ = ["Outbox", "TextRedactor"]

log = logging.getLogger(__name__)


class TextRedactor(Protocol):
    """Anything that redacts text and counts what it replaced, per kind."""

    def __call__(self, text: str) -> tuple[str, Mapping[str, int]]: ...


class Outbox:
    """Redacts outcomes and routes them to the adapter of their platform."""

    def __init__(
        self,
        *,
        redact: TextRedactor,
        audit: AuditSink,
        clock: Callable[[], datetime],
        redact_card: TextRedactor | None = None,
    ) -> None:
        self._adapters: dict[str, Adapter] = {}
        self._redact = redact
        # Approval cards show the exact request: only configured secret values are hidden there.
        self._redact_card = redact_card or redact
        self._audit = audit
        self._clock = clock

    def attach(self, adapter: Adapter) -> None:
        """Route outcomes for `adapter.platform` to `adapter`."""
        self._adapters[adapter.platform] = adapter

    def platforms(self) -> frozenset[str]:
        """The platforms that can be reached now."""
        return frozenset(self._adapters)

    def redact_outcome(self, outcome: Outcome) -> tuple[Outcome, Counter[str]]:
        """The outcome with its text, code and card redacted, and the counts per kind."""
        counts: Counter[str] = Counter()

        def red(text: str, redact: TextRedactor = self._redact) -> str:
            if not text:
                return text
            clean, found = redact(text)
            counts.update(found)
            return clean

        card = outcome.card
        if card is not None:
            exact = self._redact_card
            card = dataclasses.replace(
                card,
                title=red(card.title, exact),
                lines=tuple(red(line, exact) for line in card.lines),
                decided_by=red(card.decided_by, exact),
            )
        clean = dataclasses.replace(
            outcome,
            text=red(outcome.text),
            code=red(outcome.code),
            card=card,
        )
        return clean, counts

    async def deliver(
        self, outcomes: Iterable[Outcome], *, event_id: str = ""
    ) -> list[MessageRef | None]:
        """Redact and send each outcome; returns a reference per outcome (None when not sent)."""
        refs: list[MessageRef | None] = []
        total: Counter[str] = Counter()
        failures: list[str] = []
        for outcome in outcomes:
            clean, counts = self.redact_outcome(outcome)
            total.update(counts)
            await before_effect()  # raises (nothing sent) when the rows before it are not written
            refs.append(await self._send(clean, failures))
        total = +total  # only kinds actually found
        if total or failures:
            await self._note(event_id, total, failures)
        return refs

    async def _send(self, outcome: Outcome, failures: list[str]) -> MessageRef | None:
        adapter = self._adapters.get(outcome.to.platform)
        if adapter is None:
            failures.append(f"{outcome.to.platform}:not_running")
            log.warning("no adapter running for platform %s; message not sent", outcome.to.platform)
            return None
        try:
            return await adapter.send(outcome)
        except asyncio.CancelledError:
            raise
        except PlatformError as e:
            failures.append(f"{e.platform}:{e}")
            log.error("sending to %s failed: %s", e.platform, e)
        except Exception as e:  # noqa: BLE001 - one failure must not stop the rest; logged without its message
            failures.append(f"{outcome.to.platform}:{type(e).__name__}")
            log.error(
                "sending to %s failed: %s at %s", outcome.to.platform, type(e).__name__, where(e)
            )
        return None

    async def _note(self, event_id: str, counts: Counter[str], failures: Sequence[str]) -> None:
        record = AuditEvent(
            ts=self._clock(),
            event_id=event_id,
            stage="deliver",
            actor="",
            channel="",
            tool="",
            decision="info",
            reason="redacted" if not failures else "send_failed",
            detail={"redactions": dict(counts), "failures": list(failures)},
            args_hash="",
            latency_ms=0.0,
        )
        try:
            await self._audit.write((record,))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the messages are already out; log instead
            log.error("audit write of delivery note failed: %s", type(e).__name__)


def card_text(card: ApprovalCard) -> str:
    """A plain-text rendering of a card (for logs and the console)."""
    return "\n".join((card.title, *card.lines))
