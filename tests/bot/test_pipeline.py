"""The pipeline loop: every stage audited, crashes deny, audit failures deny, side effects only after the audit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bot.outbox import Outbox
from bot.pipeline import AuditEvent, Continue, Pipeline, Request, StageBase, Stop, reply
from policy.reasons import Reason
from tests.fakes.chat import FakeChat

NOW = datetime(2026, 11, 22, tzinfo=UTC)


class FakeAudit:
    """Records written events; can be told to fail."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.fail = False

    async def write(self, records: Sequence[AuditEvent]) -> None:
        if self.fail:
            raise OSError("disk full")
        self.events.extend(records)


class Passes(StageBase):
    name = "passes"
    side_effects = False

    async def __call__(self, request: Request) -> Continue | Stop:
        return Continue(request=request, reason=Reason.OK)


class Crashes(StageBase):
    name = "crashes"
    side_effects = False

    async def __call__(self, request: Request) -> Continue | Stop:
        raise RuntimeError("boom with a secret in it: hunter2")


class Cancels(StageBase):
    name = "cancels"
    side_effects = False

    async def __call__(self, request: Request) -> Continue | Stop:
        raise asyncio.CancelledError


class Acts(StageBase):
    """A stage with side effects; records whether it ran and what the audit held then."""

    name = "acts"
    side_effects = True

    def __init__(self, audit: FakeAudit) -> None:
        self.audit = audit
        self.ran = False
        self.audited_before: list[str] = []

    async def __call__(self, request: Request) -> Continue | Stop:
        self.ran = True
        self.audited_before = [e.stage for e in self.audit.events]
        return Stop(reason=Reason.EXECUTED, decision="allow", outcomes=(reply(request, "done"),))


def _pipeline(stages: list[object], audit: FakeAudit, chat: FakeChat) -> Pipeline:
    outbox = Outbox(
        redact=lambda t: (t.replace("hunter2", "[REDACTED:x]"), {"x": t.count("hunter2")}),
        audit=audit,
        clock=lambda: NOW,
    )
    outbox.attach(chat)
    return Pipeline(stages, audit=audit, outbox=outbox, clock=lambda: NOW)  # type: ignore[arg-type]


async def test_each_stage_is_audited_before_side_effects() -> None:
    """Stages before a side-effecting stage are in the audit log before it runs; its own row follows."""
    audit, chat = FakeAudit(), FakeChat()
    acts = Acts(audit)
    stop = await _pipeline([Passes(), Passes(), acts], audit, chat)(chat.message("bob", "x"))
    assert stop.reason == Reason.EXECUTED
    assert acts.audited_before == ["passes", "passes"]
    assert [e.stage for e in audit.events] == ["passes", "passes", "acts"]
    assert chat.last("bob") == "done"


async def test_a_crashing_stage_denies_and_later_stages_do_not_run() -> None:
    """An exception in a stage becomes a denial with a reason; nothing after it runs; the message hides details."""
    audit, chat = FakeAudit(), FakeChat()
    acts = Acts(audit)
    stop = await _pipeline([Passes(), Crashes(), acts], audit, chat)(chat.message("bob", "x"))
    assert stop.reason == Reason.INTERNAL_ERROR
    assert not acts.ran
    assert audit.events[-1].stage == "crashes" and audit.events[-1].detail == {
        "error": "RuntimeError"
    }
    assert "hunter2" not in chat.last("bob") and "boom" not in chat.last("bob")


async def test_audit_failure_denies_before_side_effects() -> None:
    """When the audit log cannot be written, the side-effecting stage never runs."""
    audit, chat = FakeAudit(), FakeChat()
    audit.fail = True
    acts = Acts(audit)
    stop = await _pipeline([Passes(), acts], audit, chat)(chat.message("bob", "x"))
    assert stop.reason == Reason.AUDIT_FAILED
    assert not acts.ran
    assert "denied" in chat.last("bob")


async def test_cancellation_propagates() -> None:
    """Cancelling is not swallowed as a denial."""
    audit, chat = FakeAudit(), FakeChat()
    with pytest.raises(asyncio.CancelledError):
        await _pipeline([Cancels()], audit, chat)(chat.message("bob", "x"))


async def test_outbox_redacts_and_counts() -> None:
    """Everything sent passes the redactor; the counts are audited."""
    audit, chat = FakeAudit(), FakeChat()

    class Leaky(StageBase):
        name = "leaky"
        side_effects = False

        async def __call__(self, request: Request) -> Continue | Stop:
            return Stop(
                reason=Reason.COMMAND,
                decision="info",
                outcomes=(reply(request, "pw hunter2", code="hunter2"),),
            )

    await _pipeline([Leaky()], audit, chat)(chat.message("bob", "x"))
    assert "hunter2" not in chat.last("bob")
    notes = [e for e in audit.events if e.stage == "deliver"]
    assert notes and notes[0].detail["redactions"] == {"x": 2}
