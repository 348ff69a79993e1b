"""The composition root: builds every part from the config and the environment, and runs them.

This is the only place that knows the concrete classes and the stage order.
`App(config, env=...)`: `await start()` opens storage, checks the audit chain
against its signed head log (and refuses to start on a rolled-back, truncated or
rewritten chain, or a removed or forged head log, unless the operator names the
problem with `accept_audit_problem`; that start is audited), runs the sandbox
self-test (execution is refused, not the bot, when it fails), builds the detectors
and the adapters, and starts receiving; `await wait()` returns when every adapter has
finished (the console at end of input); `await stop()` shuts down cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from adapters.base import Adapter
from bot.admin import ADMIN
from bot.commands import Commands
from bot.config import Config
from bot.errors import StartupError, where
from bot.floods import FloodCounter
from bot.metrics import Metrics, MetricsServer
from bot.ops import storage_ok
from bot.outbox import Outbox
from bot.pipeline import Pipeline, Stage, Stop
from bot.scheduler import Jobs
from bot.services import Services
from bot.stages.approve import Decide, ResolveToken
from bot.stages.dedupe import Dedupe
from bot.stages.execute import Execute
from bot.stages.gate import Gate
from bot.stages.identity import Identify
from bot.stages.parse import Parse
from bot.stages.permit import Permit
from bot.stages.ratelimit import RateLimit
from bot.stages.scan import Scan
from bot.types import Inbound, InboundKind
from bot.wiring import (
    DbAudit,
    build_adapters,
    build_redactor,
    build_sandbox,
    build_scanner,
    head_log_path,
    known_secrets,
    redact_counting,
)
from policy.guardrails import StrikeRule, strike
from policy.reasons import Reason
from policy.redaction import RedactionConfig, Redactor
from sandbox import Sandbox
from storage import Database, FieldCipher, StorageError, load_or_create_key

__all__ = ["App"]

log = logging.getLogger(__name__)

_QUIET_DENIALS = frozenset(
    {Reason.DUPLICATE_EVENT, Reason.RATE_LIMITED_SILENT, Reason.NOT_ADDRESSED}
)


def _classify(e: BaseException) -> Reason:
    return Reason.STORAGE_ERROR if isinstance(e, StorageError) else Reason.INTERNAL_ERROR


class App:
    """The bot process."""

    def __init__(
        self,
        config: Config,
        *,
        env: Mapping[str, str],
        adapters: Sequence[Adapter] | None = None,
        clock: Callable[[], datetime] | None = None,
        sandbox: Sandbox | None = None,
        console_io: tuple[TextIO, TextIO] | None = None,
        accept_audit_problem: str = "",
        operator: str = "operator",
        head_copy: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self._accept_audit = accept_audit_problem
        self._operator = operator
        self._head_copy = head_copy
        self.env = dict(env)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._given_adapters = list(adapters) if adapters is not None else None
        self._given_sandbox = sandbox
        self._console_io = console_io
        self.adapters: list[Adapter] = []
        self.services: Services | None = None
        self.db: Database | None = None
        self.jobs: Jobs | None = None
        self.redactor: Redactor | None = None
        self.metrics = Metrics()
        self.metrics_server: MetricsServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[Any]] = set()
        self.failed: list[str] = []  # platforms whose adapter stopped with an error
        self._messages: Pipeline | None = None
        self._buttons: Pipeline | None = None
        self.floods = FloodCounter(alert_at=config.audit.flood_alert)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open storage, check the sandbox, build everything and start receiving."""
        c = self.config
        db_path = c.db_path
        key, created = load_or_create_key(
            self.env, c.storage.data_key_env, db_path.with_suffix(".key")
        )
        if created:
            log.warning(
                "generated a data key at %s; set %s to manage it yourself",
                db_path.with_suffix(".key"),
                c.storage.data_key_env,
            )
        cipher = FieldCipher(key)
        self.db = await Database.open(db_path, cipher=cipher, head_log=head_log_path(c))
        try:
            await self._check_audit(self.db)
        except BaseException:
            await self.db.close()
            self.db = None
            raise
        await self.db.runs.abandon_live(self.clock())
        secrets = known_secrets(c, self.env, key)
        redactor = build_redactor(c, secrets)
        self.redactor = redactor
        sandbox = self._given_sandbox or build_sandbox(
            c, protected=(str(db_path.parent), c.base_dir)
        )
        report = await sandbox.selftest()
        if not report.ok:
            log.error("code execution disabled: isolation unavailable: %s", report.reason)
        elif sandbox.weak:
            log.warning(
                "SANDBOX IS WEAK: sandbox.allow_weak_isolation is on; runs are not isolated"
            )
        audit = DbAudit(self.db, redactor.redact_text, self.metrics if c.metrics.enabled else None)
        # configured secret values only: approval cards and the check that no argument holds one
        exact = Redactor(RedactionConfig(pii=frozenset(), secrets=False), known_secrets=secrets)
        outbox = Outbox(
            redact=lambda t: redact_counting(redactor, t),
            audit=audit,
            clock=self.clock,
            redact_card=lambda t: redact_counting(exact, t),
        )
        self.services = Services(
            config=c,
            env=self.env,
            db=self.db,
            sandbox=sandbox,
            scanner=build_scanner(c),
            redactor=redactor,
            known_secrets=exact,
            outbox=outbox,
            clock=self.clock,
            token_key=cipher.derive_keys("approval-tokens")[0],
            pepper=cipher.derive_keys("pairing-codes")[0],
        )
        self.services.use_keys(
            cipher.derive_keys("approval-tokens"), cipher.derive_keys("pairing-codes")
        )
        if not self.env.get(c.storage.data_key_env):
            self.services.key_path = db_path.with_suffix(".key")
        s = self.services
        message_stages: list[Stage] = [
            Dedupe(s),
            Identify(s),
            RateLimit(s),
            Parse(s),
            Commands(s, ADMIN),
            Scan(s),
            Permit(s),
            Gate(s),
            Execute(s),
        ]
        button_stages: list[Stage] = [
            Dedupe(s),
            Identify(s),
            RateLimit(s),
            ResolveToken(s),
            Decide(s),
            Execute(s),
        ]
        self._messages = Pipeline(
            message_stages, audit=audit, outbox=outbox, clock=self.clock, classify_error=_classify
        )
        self._buttons = Pipeline(
            button_stages, audit=audit, outbox=outbox, clock=self.clock, classify_error=_classify
        )
        self.adapters = (
            self._given_adapters
            if self._given_adapters is not None
            else build_adapters(
                self.config,
                self.env,
                clock=self.clock,
                audit=audit,
                console_io=self._console_io,
                floods=self.floods,
            )
        )
        if not self.adapters:
            raise StartupError("no platform to serve: enable the console or set a platform's token")
        for adapter in self.adapters:
            outbox.attach(adapter)
        self.metrics.set_sandbox_available(sandbox.available)
        if c.metrics.enabled:
            self.metrics_server = MetricsServer(
                self.metrics, host=c.metrics.host, port=c.metrics.port, health=self.health
            )
            await self.metrics_server.start()
        self.jobs = Jobs(s)
        self.jobs.on_selftest = self.metrics.set_sandbox_available
        self.jobs.floods = self.floods
        self.jobs.head_copy = self._head_copy
        self.jobs.start()
        for adapter in self.adapters:
            self._tasks.append(
                asyncio.create_task(self._serve(adapter), name=f"serve-{adapter.platform}")
            )

    async def _check_audit(self, db: Database) -> None:
        """Refuse to start on an audit chain that does not match its signed head log, unless
        the operator named exactly the problem found; then the start is audited."""
        found = await db.audit.check_head()
        if found.ok:
            try:
                await db.audit.begin_head_log(now=self.clock())
            except StorageError as e:
                raise StartupError(
                    f"audit head log {db.audit.head_log}: {e}; set audit.head_log to a writable"
                    " place outside the data directory"
                ) from None
            return
        if self._accept_audit != found.problem:
            raise StartupError(
                f"audit: {found.problem}: {found.message}. Nothing was started. Find out what "
                "happened (`frontdoor audit verify`); to start on this database anyway, run "
                f"`frontdoor run --accept-audit-problem {found.problem}` (the start is audited)."
            )
        log.warning("starting despite an audit problem the operator accepted: %s", found.problem)
        await db.audit.accept_head(found, by=self._operator, now=self.clock())

    async def _serve(self, adapter: Adapter) -> None:
        try:
            await adapter.serve(self._deliver)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - one platform failing must not take the others down
            self.failed.append(adapter.platform)
            log.error(
                "the %s adapter stopped: %s at %s", adapter.platform, type(e).__name__, where(e)
            )

    async def _deliver(self, inbound: Inbound) -> None:
        await self.handle(inbound)

    async def handle(self, inbound: Inbound) -> Stop:
        """Run one inbound event through its pipeline."""
        pipeline = self._buttons if inbound.kind is InboundKind.BUTTON else self._messages
        assert pipeline is not None, "App.start() first"
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        started = time.perf_counter()
        try:
            stop = await pipeline(inbound)
            if self.metrics_server is not None:
                self.metrics.observe_pipeline((time.perf_counter() - started) * 1000)
            await self._after(inbound, stop)
            return stop
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _after(self, inbound: Inbound, stop: Stop) -> None:
        """Repeated denials of one user alert the admins (once per crossing)."""
        s = self.services
        if s is None or stop.decision != "deny" or stop.reason in _QUIET_DENIALS:
            return
        key = inbound.actor.key
        rule = s.config.guardrails.denial_alerts
        hits, crossed = strike(
            s.state.denials.get(key, ()),
            StrikeRule(window=timedelta(seconds=rule.window), threshold=rule.threshold),
            s.clock(),
        )
        s.state.denials[key] = hits
        if crossed:
            minutes = round(rule.window / 60)
            text = (
                f"{inbound.actor.label} ({key}) was denied {rule.threshold} times within {minutes} min "
                f"(latest: {stop.reason}). See /audit 20 {key}."
            )
            await s.outbox.deliver(await s.to_admins(text), event_id=f"alert:{inbound.event_id}")

    async def health(self) -> dict[str, object]:
        """For /healthz: storage answers and the sandbox may run tools."""
        s = self.services
        storage = self.db is not None and await storage_ok(self.db)
        sandbox = s is not None and s.sandbox.available
        if s is not None:
            self.metrics.set_sandbox_available(sandbox)
            self.metrics.set_live_runs(len(s.sandbox.live_runs()))
        lockdown = s is not None and storage and await s.lockdown() is not None
        return {
            "ok": storage and sandbox,
            "storage": storage,
            "sandbox": sandbox,
            "lockdown": lockdown,
        }

    async def wait(self) -> None:
        """Return when every adapter has stopped serving (the console: at end of input)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Stop receiving; let runs in flight finish within `runtime.shutdown_grace`, kill the rest; close storage.

        Parked requests stay in storage and survive the restart; the audit log is
        written before each handler returns, and its head is anchored at close.
        """
        stopping = asyncio.ensure_future(
            asyncio.gather(*(a.stop() for a in self.adapters), return_exceptions=True)
        )
        grace = self.config.runtime.shutdown_grace
        pending: set[asyncio.Future[Any]] = {stopping, *self._tasks, *self._inflight}
        _, late = await asyncio.wait(pending, timeout=grace)
        if late and self.services is not None:
            runs = self.services.sandbox.live_runs()
            log.warning(
                "shutdown: %d runs still going after %.0f s; killing them", len(runs), grace
            )
            for run in runs:
                await self.services.sandbox.kill(run.run_id)
            await asyncio.wait(late, timeout=10)
        await self.wait()
        if self.jobs is not None:
            self.jobs.stop()
            try:  # the last minutes of refused requests, summarised before closing
                await self.jobs.audit_minute(self.clock(), everything=True)
            except Exception as e:  # noqa: BLE001 - shutting down: log and go on
                log.error("final audit summary failed: %s", type(e).__name__)
        if self.metrics_server is not None:
            await self.metrics_server.stop()
            self.metrics_server = None
        if self.db is not None:
            await self.db.close()
            self.db = None
