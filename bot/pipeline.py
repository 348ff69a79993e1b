"""The pipeline: one plain loop over the stages, auditing every decision.

Each stage is a small callable that either passes the request on (`Continue`) or
ends it (`Stop`). This loop is the one place that

- writes each stage's decision to the audit log. Rows are buffered, and written
  before anything they led to, by construction rather than by declaration: while a
  stage runs, the loop sets the request's flush as the `storage.effects` hook, which
  every storage write and every send of the outbox awaits first. So a stage's first
  write or message (a claimed event, a pairing, an approval, a lowered autonomy, a
  card, a run) finds the rows of the stages before it durable; if they cannot be
  written, that write or send raises `AuditNotWritten` and the request is denied
  with nothing done. The after-send hook of a stop (recording where cards went) is
  audited and held to the same order;
- turns an unexpected exception inside a stage into a denial with a reason
  (`CancelledError` still propagates), so the process keeps serving;
- denies when the audit write itself fails;
- hands every outcome to the outbox, which redacts it before any adapter sees it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.errors import where
from bot.types import Address, Inbound, MessageRef, Outcome
from policy.reasons import Reason
from storage.audit import AuditEvent
from storage.effects import audit_first

if TYPE_CHECKING:
    from bot.outbox import Outbox

__all__ = [
    "AuditEvent",
    "AuditNotWritten",
    "AuditSink",
    "Continue",
    "Pipeline",
    "Request",
    "Stage",
    "StageBase",
    "Stop",
    "reply",
]

log = logging.getLogger(__name__)

Decision = Literal["allow", "deny", "info"]
AfterSend = Callable[[Sequence[MessageRef | None]], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """What the stages know about one inbound event so far."""

    inbound: Inbound
    is_admin: bool = False
    is_approver: bool = False
    command: str = ""
    command_args: tuple[str, ...] = ()
    tool: str = ""
    args: Mapping[str, str | int] = field(default_factory=dict)
    argv: tuple[str, ...] = ()
    escalate: bool = False
    threat: str = ""
    approval_id: str = ""
    approval_public_id: str = ""
    reply_to: Address | None = None
    requester: str = ""

    @property
    def actor_key(self) -> str:
        """The requester's identity key (the presser's, for a button)."""
        return self.inbound.actor.key

    def args_hash(self) -> str:
        """A hash of the exact request, for the audit log (never the raw arguments)."""
        if not self.tool:
            return ""
        blob = json.dumps([self.tool, list(self.argv)], separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True, kw_only=True)
class Continue:
    """The stage passed the request on; `outcomes` are delivered at once."""

    request: Request
    reason: Reason = Reason.OK
    detail: Mapping[str, Any] = field(default_factory=dict)
    outcomes: tuple[Outcome, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """The stage ended the request; `outcomes` say so to people (possibly none)."""

    reason: Reason
    decision: Decision = "deny"
    outcomes: tuple[Outcome, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)
    tool: str = ""
    after_send: AfterSend | None = None


class Stage(Protocol):
    """One step of the pipeline. Whatever it writes or sends waits for the earlier rows."""

    name: str

    async def __call__(self, request: Request) -> Continue | Stop: ...


class StageBase:
    """A base for stages (a name); nothing to declare: effects are ordered by the loop."""

    name = "stage"


class AuditNotWritten(Exception):
    """The audit rows a write or send depends on could not be written; it did not happen."""


class AuditSink(Protocol):
    """Where the pipeline writes its decisions (the hash-chained audit log)."""

    async def write(self, records: Sequence[AuditEvent]) -> None: ...


def reply(request: Request, text: str, *, code: str = "", private: bool = True) -> Outcome:
    """An outcome addressed to whoever sent the inbound event, where they will see it."""
    inbound = request.inbound
    if request.reply_to is not None:
        return Outcome(to=request.reply_to, text=text, code=code)
    to = Address(
        platform=inbound.channel.platform,
        tenant=inbound.channel.tenant,
        channel_id=inbound.channel.channel_id,
        user_id=inbound.actor.user_id,
        private=private and inbound.channel.kind != "dm",
        reply_context=inbound.reply_context,
    )
    return Outcome(to=to, text=text, code=code)


_SORRY = "Something went wrong, so the request was denied. An admin can find it in the audit log."


class Pipeline:
    """Runs an inbound event through a fixed list of stages."""

    def __init__(
        self,
        stages: Sequence[Stage],
        *,
        audit: AuditSink,
        outbox: Outbox,
        clock: Callable[[], datetime],
        classify_error: Callable[[BaseException], Reason] | None = None,
    ) -> None:
        self._stages = tuple(stages)
        self._audit = audit
        self._outbox = outbox
        self._clock = clock
        self._classify = classify_error or (lambda e: Reason.INTERNAL_ERROR)

    async def __call__(self, inbound: Inbound) -> Stop:
        """Handle one event end to end; returns the stop that ended it."""
        request = Request(inbound=inbound)
        journal = _Journal(self._audit)
        stop: Stop | None = None
        for stage in self._stages:
            started = time.perf_counter()
            try:
                with audit_first(journal.flush_or_raise):
                    result = await stage(request)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - one failure must not stop the rest; logged without its message
                if isinstance(e, AuditNotWritten):
                    reason = Reason.AUDIT_FAILED
                else:
                    reason = self._classify(e)
                    log.error("stage %s failed: %s at %s", stage.name, type(e).__name__, where(e))
                result = Stop(
                    reason=reason,
                    outcomes=(reply(request, _SORRY),),
                    detail={"error": type(e).__name__},
                )
            elapsed = (time.perf_counter() - started) * 1000
            journal.add(self._record(stage.name, request, result, elapsed))
            if isinstance(result, Stop):
                stop = result
                break
            request = result.request
            if result.outcomes:
                if not await journal.flush():
                    stop = Stop(reason=Reason.AUDIT_FAILED, outcomes=(reply(request, _SORRY),))
                    break
                with audit_first(journal.flush_or_raise):
                    await self._outbox.deliver(result.outcomes, event_id=inbound.event_id)
        if stop is None:
            stop = Stop(reason=Reason.INTERNAL_ERROR, outcomes=(reply(request, _SORRY),))
            journal.add(self._record("pipeline", request, stop, 0.0))
        if not await journal.flush():
            if stop.decision == "allow" or stop.reason == Reason.EXECUTED:
                # the run happened: its result goes to the requester even unaudited (logged)
                log.error("audit write failed after the run; delivering its result anyway")
                with audit_first(None):
                    await self._outbox.deliver(stop.outcomes, event_id=inbound.event_id)
                return stop
            # the one message sent without its row: a fixed notice that says nothing more
            log.error("audit write failed; the request is denied with a fixed notice")
            stop = Stop(reason=Reason.AUDIT_FAILED, outcomes=(reply(request, _SORRY),))
            with audit_first(None):
                await self._outbox.deliver(stop.outcomes, event_id=inbound.event_id)
            return stop
        with audit_first(journal.flush_or_raise):
            refs = await self._outbox.deliver(stop.outcomes, event_id=inbound.event_id)
        if stop.after_send is not None:
            await self._after_send(stop.after_send, refs, request, journal)
        return stop

    async def _after_send(
        self,
        hook: AfterSend,
        refs: Sequence[MessageRef | None],
        request: Request,
        journal: _Journal,
    ) -> None:
        """Run a stop's after-send hook (it records where cards went), audited before it writes."""
        sent = sum(ref is not None for ref in refs)
        journal.add(self._note(request, "after_send", Reason.OK, {"sent": sent}))
        try:
            with audit_first(journal.flush_or_raise):
                await hook(refs)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the cards are out; losing their refs is logged and audited
            log.error("after-send hook failed: %s", type(e).__name__)
            journal.add(
                self._note(
                    request, "after_send", Reason.INTERNAL_ERROR, {"error": type(e).__name__}
                )
            )
        await journal.flush()

    def _note(
        self, request: Request, stage: str, reason: Reason, detail: Mapping[str, Any]
    ) -> AuditEvent:
        inbound = request.inbound
        return AuditEvent(
            ts=self._clock(),
            event_id=inbound.event_id,
            stage=stage,
            actor=inbound.actor.key,
            channel=inbound.channel.key,
            tool=request.tool,
            decision="info",
            reason=str(reason),
            detail=dict(detail),
        )

    def _record(
        self, stage: str, request: Request, result: Continue | Stop, ms: float
    ) -> AuditEvent:
        inbound = request.inbound
        if isinstance(result, Continue):
            decision: str = "allow"
            reason = result.reason
            detail = result.detail
            tool = result.request.tool
            req = result.request
        else:
            decision = result.decision
            reason = result.reason
            detail = result.detail
            tool = result.tool or request.tool
            req = request
        return AuditEvent(
            ts=self._clock(),
            event_id=inbound.event_id,
            stage=stage,
            actor=inbound.actor.key,
            channel=inbound.channel.key,
            tool=tool,
            decision=decision,
            reason=str(reason),
            detail=dict(detail),
            args_hash=req.args_hash(),
            latency_ms=round(ms, 3),
        )


class _Journal:
    """One request's audit rows not yet written, and the one way to write them."""

    __slots__ = ("_audit", "_lock", "_pending")

    def __init__(self, audit: AuditSink) -> None:
        self._audit = audit
        self._pending: list[AuditEvent] = []
        self._lock = asyncio.Lock()  # a stage's helper task may flush too

    def add(self, event: AuditEvent) -> None:
        self._pending.append(event)

    async def flush(self) -> bool:
        """Write the pending rows; False (logged) when the audit log refuses them."""
        if not self._pending:
            return True
        async with self._lock:
            if not self._pending:
                return True
            batch = tuple(self._pending)
            try:
                await self._audit.write(batch)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - failing to audit denies, it never lets through
                log.error("audit write failed: %s", type(e).__name__)
                return False
            del self._pending[: len(batch)]
            return True

    async def flush_or_raise(self) -> None:
        """The hook storage writes and outbox sends await: raise when the rows are not written."""
        if self._pending and not await self.flush():
            raise AuditNotWritten("the audit rows this depends on could not be written")
