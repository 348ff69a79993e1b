"""The pipeline loop: every stage audited, crashes deny, audit failures deny, and no write or
send of a stage happens before the audit rows of the stages before it are written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.outbox import Outbox
from bot.pipeline import AuditEvent, Continue, Pipeline, Request, StageBase, Stop, reply
from bot.types import MessageRef
from policy.reasons import Reason
from storage import Database
from tests.fakes.chat import FakeChat

NOW = datetime(2026, 11, 22, tzinfo=UTC)


class FakeAudit:
    """Records written events (and what the database held at each write); can be told to fail."""

    def __init__(self, db: Database | None = None) -> None:
        self.events: list[AuditEvent] = []
        self.fail = False
        self.db = db
        self.state_at_write: list[object] = []
        self.sent_at_write: list[int] = []
        self.chat: FakeChat | None = None

    async def write(self, records: Sequence[AuditEvent]) -> None:
        if self.db is not None:
            self.state_at_write.append(await self.db.settings.get("k"))
        if self.chat is not None:
            self.sent_at_write.append(len(self.chat.sent))
        if self.fail:
            raise OSError("disk full")
        self.events.extend(records)


class Passes(StageBase):
    name = "passes"

    async def __call__(self, request: Request) -> Continue | Stop:
        return Continue(request=request, reason=Reason.OK)


class Crashes(StageBase):
    name = "crashes"

    async def __call__(self, request: Request) -> Continue | Stop:
        raise RuntimeError("boom with a secret in it: hunter2")


class Cancels(StageBase):
    name = "cancels"

    async def __call__(self, request: Request) -> Continue | Stop:
        raise asyncio.CancelledError


class Writes(StageBase):
    """A stage that changes stored state (from a helper task too, when asked)."""

    name = "writes"

    def __init__(self, db: Database, *, in_task: bool = False) -> None:
        self.db = db
        self.in_task = in_task

    async def __call__(self, request: Request) -> Continue | Stop:
        write = self.db.settings.set("k", "v", by="t", now=NOW)
        if self.in_task:
            await asyncio.create_task(write)
        else:
            await write
        return Stop(reason=Reason.EXECUTED, decision="allow", outcomes=(reply(request, "done"),))


class Sends(StageBase):
    """A stage that sends a message itself, before it decides."""

    name = "sends"

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def __call__(self, request: Request) -> Continue | Stop:
        await self.outbox.deliver((reply(request, "psst"),))
        return Stop(reason=Reason.COMMAND, decision="info")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "fd.db")
    try:
        yield database
    finally:
        await database.close()


def _outbox(audit: FakeAudit, chat: FakeChat) -> Outbox:
    outbox = Outbox(
        redact=lambda t: (t.replace("hunter2", "[REDACTED:x]"), {"x": t.count("hunter2")}),
        audit=audit,
        clock=lambda: NOW,
    )
    outbox.attach(chat)
    return outbox


def _pipeline(stages: list[object], audit: FakeAudit, chat: FakeChat) -> Pipeline:
    return Pipeline(stages, audit=audit, outbox=_outbox(audit, chat), clock=lambda: NOW)  # type: ignore[arg-type]


async def test_rows_before_a_write_are_written_before_it(db: Database) -> None:
    """The earlier stages' rows are stored while the stage's write has not happened yet."""
    audit, chat = FakeAudit(db), FakeChat()
    stop = await _pipeline([Passes(), Passes(), Writes(db)], audit, chat)(chat.message("bob", "x"))
    assert stop.reason == Reason.EXECUTED
    assert audit.state_at_write[0] is None  # the first flush came before the write
    assert [e.stage for e in audit.events] == ["passes", "passes", "writes"]
    assert await db.settings.get("k") == "v"
    assert chat.last("bob") == "done"


@pytest.mark.parametrize("in_task", [False, True], ids=["in_the_stage", "in_a_helper_task"])
async def test_a_failing_audit_stops_the_write(db: Database, in_task: bool) -> None:
    """When the rows cannot be written, the write raises: nothing stored, only the fixed notice sent."""
    audit, chat = FakeAudit(db), FakeChat()
    audit.fail = True
    stop = await _pipeline([Passes(), Writes(db, in_task=in_task)], audit, chat)(
        chat.message("bob", "x")
    )
    assert stop.reason == Reason.AUDIT_FAILED
    assert await db.settings.get("k") is None
    assert [o.text for o in chat.sent] == [stop.outcomes[0].text]
    assert "denied" in chat.last("bob")


async def test_rows_before_a_send_are_written_before_it() -> None:
    """A stage's own message goes out only after the earlier rows are written; never if they fail."""
    audit, chat = FakeAudit(), FakeChat()
    audit.chat = chat
    outbox = _outbox(audit, chat)
    pipeline = Pipeline([Passes(), Sends(outbox)], audit=audit, outbox=outbox, clock=lambda: NOW)
    await pipeline(chat.message("bob", "x"))
    assert audit.sent_at_write[0] == 0 and chat.last("bob") == "psst"
    failing, quiet = FakeAudit(), FakeChat()
    failing.fail = True
    outbox = _outbox(failing, quiet)
    pipeline = Pipeline([Passes(), Sends(outbox)], audit=failing, outbox=outbox, clock=lambda: NOW)
    stop = await pipeline(quiet.message("bob", "x"))
    assert stop.reason == Reason.AUDIT_FAILED
    assert "psst" not in [o.text for o in quiet.sent]


async def test_a_stage_without_effects_needs_no_flush(db: Database) -> None:
    """Stages that only decide cost one audit write at the end, not one per stage."""
    audit, chat = FakeAudit(db), FakeChat()
    await _pipeline([Passes(), Passes(), Passes()], audit, chat)(chat.message("bob", "x"))
    assert len(audit.state_at_write) == 1


async def test_the_after_send_hook_is_audited_before_it_writes(db: Database) -> None:
    """The hook that records where cards went has its own row, written before its write."""
    audit, chat = FakeAudit(db), FakeChat()
    seen: list[Sequence[MessageRef | None]] = []

    async def remember(refs: Sequence[MessageRef | None]) -> None:
        seen.append(refs)
        await db.settings.set("k", "cards", by="t", now=NOW)

    class Cards(StageBase):
        name = "cards"

        async def __call__(self, request: Request) -> Continue | Stop:
            return Stop(
                reason=Reason.COMMAND,
                decision="info",
                outcomes=(reply(request, "card"),),
                after_send=remember,
            )

    await _pipeline([Cards()], audit, chat)(chat.message("bob", "x"))
    assert seen and await db.settings.get("k") == "cards"
    assert [e.stage for e in audit.events] == ["cards", "after_send"]
    assert audit.events[-1].detail == {"sent": 1}
    assert audit.state_at_write == [None, None]


async def test_a_crashing_stage_denies_and_later_stages_do_not_run(db: Database) -> None:
    """An exception in a stage becomes a denial with a reason; nothing after it runs; the message hides details."""
    audit, chat = FakeAudit(), FakeChat()
    stop = await _pipeline([Passes(), Crashes(), Writes(db)], audit, chat)(chat.message("bob", "x"))
    assert stop.reason == Reason.INTERNAL_ERROR
    assert await db.settings.get("k") is None
    assert audit.events[-1].stage == "crashes" and audit.events[-1].detail == {
        "error": "RuntimeError"
    }
    assert "hunter2" not in chat.last("bob") and "boom" not in chat.last("bob")


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
