"""The pipeline: one plain loop over the stages, auditing every decision.

Each stage is a small callable that either passes the request on (`Continue`) or
ends it (`Stop`). This loop is the one place that

- writes each stage's decision to the audit log (buffered, and always flushed
  before a stage with side effects runs, so nothing happens unaudited);
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

if TYPE_CHECKING:
    from bot.outbox import Outbox

__all__ = [
    "AuditEvent",
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
    """One step of the pipeline."""

    name: str

    def acts(self, request: Request) -> bool:
        """True when the stage may change the world for this request (run, send, change state).

        The loop writes the pending audit rows before calling such a stage.
        """
        ...

    async def __call__(self, request: Request) -> Continue | Stop: ...


class StageBase:
    """Default for stages: `side_effects` says whether the stage acts, whatever the request."""

    name = "stage"
    side_effects = False

    def acts(self, request: Request) -> bool:
        """See `Stage.acts`."""
        return self.side_effects


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
        pending: list[AuditEvent] = []
        stop: Stop | None = None
        for stage in self._stages:
            if stage.acts(request) and not await self._flush(pending):
                stop = Stop(reason=Reason.AUDIT_FAILED, outcomes=(reply(request, _SORRY),))
                break
            started = time.perf_counter()
            try:
                result = await stage(request)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - one failure must not stop the rest; logged without its message
                reason = self._classify(e)
                log.error("stage %s failed: %s at %s", stage.name, type(e).__name__, where(e))
                result = Stop(
                    reason=reason,
                    outcomes=(reply(request, _SORRY),),
                    detail={"error": type(e).__name__},
                )
            elapsed = (time.perf_counter() - started) * 1000
            pending.append(self._record(stage.name, request, result, elapsed))
            if isinstance(result, Stop):
                stop = result
                break
            request = result.request
            if result.outcomes:
                if not await self._flush(pending):
                    stop = Stop(reason=Reason.AUDIT_FAILED, outcomes=(reply(request, _SORRY),))
                    break
                await self._outbox.deliver(result.outcomes, event_id=inbound.event_id)
        if stop is None:
            stop = Stop(reason=Reason.INTERNAL_ERROR, outcomes=(reply(request, _SORRY),))
            pending.append(self._record("pipeline", request, stop, 0.0))
        if not await self._flush(pending):
            if stop.decision == "allow" or stop.reason == Reason.EXECUTED:
                log.error("audit write failed after the run; delivering its result anyway")
            else:
                stop = Stop(reason=Reason.AUDIT_FAILED, outcomes=(reply(request, _SORRY),))
        refs = await self._outbox.deliver(stop.outcomes, event_id=inbound.event_id)
        if stop.after_send is not None:
            try:
                await stop.after_send(refs)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - recording card refs is best effort
                log.error("after-send hook failed: %s", type(e).__name__)
        return stop

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

    async def _flush(self, pending: list[AuditEvent]) -> bool:
        if not pending:
            return True
        try:
            await self._audit.write(tuple(pending))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - failing to audit denies, it never lets through
            log.error("audit write failed: %s", type(e).__name__)
            return False
        pending.clear()
        return True
