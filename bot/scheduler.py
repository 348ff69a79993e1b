"""Scheduled jobs (APScheduler 3, in the bot's event loop): expiry, retention, the sandbox self-test,
the minute's flood summary and the audit head's copy in syslog.

Each job is a plain coroutine method that takes `now`, so tests call it directly
with the time they want; the scheduler only decides when to call it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.approvals import Parked, decided_card, edits_for, parse_content
from bot.errors import where
from bot.floods import FloodCounter
from bot.services import Services
from bot.types import Outcome
from storage.audit import AuditEvent

__all__ = ["Jobs"]

log = logging.getLogger(__name__)


class Jobs:
    """The bot's periodic work."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._scheduler: AsyncIOScheduler | None = None
        self.on_selftest: Callable[[bool], None] | None = None
        self.floods: FloodCounter | None = None  # refused unauthenticated requests, per minute
        self.head_copy: Callable[[str], None] | None = None  # e.g. syslog: the newest signed head

    def start(self) -> None:
        """Schedule every job on the running event loop."""
        s = self._s
        sched = AsyncIOScheduler(timezone="UTC")
        sched.add_job(
            self._tick(self.expire_approvals), "interval", seconds=15, id="expire_approvals"
        )
        sched.add_job(self._tick(self.expire_other), "interval", seconds=60, id="expire_other")
        sched.add_job(self._tick(self.retention), "interval", hours=6, id="retention")
        sched.add_job(
            self._tick(self.selftest),
            "interval",
            seconds=s.config.sandbox.selftest_interval,
            id="sandbox_selftest",
        )
        sched.add_job(self._tick(self.watchdog), "interval", seconds=30, id="run_watchdog")
        sched.add_job(self._tick(self.audit_minute), "interval", seconds=60, id="audit_minute")
        if s.config.guardrails.daily_digest:
            sched.add_job(self._tick(self.digest), "cron", hour=8, minute=0, id="daily_digest")
        sched.start()
        self._scheduler = sched

    def stop(self) -> None:
        """Stop scheduling (running jobs finish on their own)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def _tick(self, job: Callable[[datetime], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await job(self._s.clock())
            except Exception as e:  # noqa: BLE001 - a failed job is logged and tried again next time
                name = getattr(job, "__name__", "?")
                log.error("scheduled job %s failed: %s at %s", name, type(e).__name__, where(e))

        return run

    async def _audit(
        self, stage: str, reason: str, detail: dict[str, object], now: datetime
    ) -> None:
        await self._s.db.audit.append(
            AuditEvent(
                ts=now,
                event_id=f"job:{stage}",
                stage=stage,
                decision="info",
                reason=reason,
                detail=detail,
            )
        )

    async def expire_approvals(self, now: datetime) -> int:
        """Deny requests nobody decided in time: tell the requester, close every copy of the card."""
        s = self._s
        expired = await s.db.approvals.expire_due(now)
        for approval in expired:
            content = parse_content(approval.kind, approval.payload)
            card = decided_card(approval.public_id, content, "expired", "")
            edits = edits_for(await s.db.approvals.card_refs(approval.id), card)
            if not isinstance(content, Parked):  # a pairing card: the code expires on its own
                await s.outbox.deliver(edits, event_id=f"job:expire:{approval.public_id}")
                continue
            parked = content
            outcomes = (
                *edits,
                Outcome(
                    to=parked.reply,
                    text=f"Your request {approval.public_id} ({parked.tool}) expired without a decision; "
                    "it was not run.",
                ),
            )
            await s.outbox.deliver(outcomes, event_id=f"job:expire:{approval.public_id}")
            await self._audit("expire", "approval_expired", {"approval": approval.public_id}, now)
        return len(expired)

    async def expire_other(self, now: datetime) -> None:
        """Expire pairing codes and grants with an end time."""
        s = self._s
        codes = await s.db.pairings.expire(now)
        grants = await s.db.grants.expire(now)
        s.invalidate()
        if codes or grants:
            await self._audit("expire", "expired", {"pairings": codes, "grants": grants}, now)
        await (
            s.db.audit.anchor()
        )  # a signed note of the chain's head: truncation becomes detectable

    async def retention(self, now: datetime) -> None:
        """Purge audit rows and idempotency keys past their retention (the chain stays verifiable);
        cut a head log past its size to its newest line (only while it matches the chain)."""
        s = self._s
        keys = await s.db.idempotency.purge(now - timedelta(days=1))
        rows = await s.db.audit.purge_before(
            now - timedelta(days=s.config.audit.retention_days), now=now
        )
        if keys or rows:
            await self._audit(
                "retention", "purged", {"idempotency_keys": keys, "audit_rows": rows}, now
            )
        limit = s.config.audit.head_log_max_mb * 1024 * 1024
        if await s.db.audit.compact_head_log(limit, now=now):
            await self._audit("retention", "head_log_compacted", {"max_mb": limit >> 20}, now)

    async def audit_minute(self, now: datetime, *, everything: bool = False) -> int:
        """One summary row per minute of refused unauthenticated requests (alerting the admins
        when a minute passes `audit.flood_alert`), and a copy of the newest signed head."""
        s = self._s
        rows = 0
        if self.floods is not None:
            for summary in self.floods.drain(now, everything=everything):
                await s.db.audit.append(
                    AuditEvent(
                        ts=now,
                        event_id=f"flood:{summary.window.isoformat()}",
                        stage="adapter",
                        decision="deny",
                        reason="unauthenticated_requests",
                        detail=dict(summary.detail),
                    )
                )
                rows += 1
                if summary.alert:
                    top = ", ".join(f"{k} ({v})" for k, v in summary.detail["top_sources"].items())  # type: ignore[attr-defined]
                    text = (
                        f"{summary.total} unauthenticated requests were refused in the minute from "
                        f"{summary.window:%H:%M} UTC (alert at {s.config.audit.flood_alert}); "
                        f"busiest sources: {top or 'none named'}. See /audit 5."
                    )
                    await s.outbox.deliver(
                        await s.to_admins(text), event_id=f"alert:flood:{summary.window:%H%M}"
                    )
        if self.head_copy is not None:
            line = await s.db.audit.newest_head_line()
            if line:
                self.head_copy(line)
        return rows

    async def selftest(self, now: datetime) -> bool:
        """Re-run the sandbox self-test; execution is refused while it fails."""
        s = self._s
        was = s.sandbox.available
        report = await s.sandbox.selftest()
        if self.on_selftest is not None:
            self.on_selftest(report.ok)
        if report.ok != was:
            level = logging.INFO if report.ok else logging.ERROR
            log.log(
                level,
                "sandbox self-test now %s: %s",
                "passes" if report.ok else "fails",
                report.reason or "ok",
            )
            await self._audit(
                "selftest",
                "ok" if report.ok else "sandbox_unavailable",
                {"reason": report.reason},
                now,
            )
        return report.ok

    async def watchdog(self, now: datetime) -> int:
        """Kill runs that outlived their tool's timeout by more than a grace period (even if their task was lost)."""
        s = self._s
        killed = 0
        for run in s.sandbox.live_runs():
            tool = s.tool(run.tool)
            limit = (tool.timeout if tool is not None else 60.0) + 30.0
            if (now - run.started_at).total_seconds() > limit and await s.sandbox.kill(run.run_id):
                killed += 1
                await self._audit(
                    "watchdog", "run_killed", {"run_id": run.run_id, "tool": run.tool}, now
                )
        return killed

    async def digest(self, now: datetime) -> None:
        """The admins' daily summary (the same numbers as /stats)."""
        from bot.control import stats_text

        s = self._s
        text = "Daily digest. " + await stats_text(s, now)
        line = await s.db.audit.newest_head_line()
        if line:  # a copy of the signed head where the admins keep their messages
            text += f"\nAudit head (keep it: `frontdoor audit verify --head FILE`): {line}"
        await s.outbox.deliver(await s.to_admins(text), event_id=f"job:digest:{now:%Y-%m-%d}")
