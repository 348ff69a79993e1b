"""The composition root: builds every part from the config and the environment, and runs them.

This is the only place that knows the concrete classes and the stage order.
`App(config, env=...)`: `await start()` opens storage, runs the sandbox self-test
(execution is refused, not the bot, when it fails), builds the detectors and the
adapters, and starts receiving; `await wait()` returns when every adapter has
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
from adapters.console import ConsoleAdapter
from bot.admin import ADMIN
from bot.commands import Commands
from bot.config import Config
from bot.errors import StartupError
from bot.metrics import Metrics, MetricsServer
from bot.ops import storage_ok
from bot.outbox import Outbox
from bot.pipeline import Pipeline, Stage, Stop
from bot.scheduler import Jobs
from bot.services import Services
from bot.stages.approve import Decide, ResolveToken
from bot.stages.dedupe import Dedupe
from bot.stages.execute import Execute, limits_for
from bot.stages.gate import Gate
from bot.stages.identity import Identify
from bot.stages.parse import Parse
from bot.stages.permit import Permit
from bot.stages.ratelimit import RateLimit
from bot.stages.scan import Scan
from bot.types import Inbound, InboundKind
from policy.guardrails import StrikeRule, strike
from policy.injection import Scanner, ScannerConfig, ThreatLevel
from policy.reasons import Reason
from policy.redaction import ALL_PII, RedactionConfig, Redactor
from sandbox import Limits, Sandbox, SandboxConfig
from storage import Database, FieldCipher, StorageError, load_or_create_key
from storage.audit import AuditEvent

__all__ = ["App", "build_redactor", "build_sandbox", "known_secrets"]

log = logging.getLogger(__name__)

USER_COMMANDS = (
    ("help", "What the bot can do"),
    ("run", "Run a tool: /run TOOL name=value ..."),
    ("tools", "The tools you may use"),
    ("status", "Your recent runs and waiting requests"),
    ("cancel", "Withdraw a waiting request"),
    ("whoami", "Who the bot thinks you are"),
    ("link", "Tie your Slack and Telegram accounts"),
    ("unlink", "Undo /link"),
)
ADMIN_COMMANDS = (
    ("pair", "Pairing: list, approve CODE, reject CODE, revoke USER"),
    ("grant", "Grant a tool: TARGET TOOL [for 2h]"),
    ("revoke", "Revoke a tool: TARGET TOOL"),
    ("role", "add|remove admin|approver USER"),
    ("ban", "Ban a user"),
    ("unban", "Unban a user"),
    ("whois", "About a user"),
    ("autonomy", "Set autonomy: LEVEL [scope]"),
    ("pending", "Requests waiting for approval"),
    ("runs", "Runs in flight"),
    ("kill", "Kill a run"),
    ("audit", "Recent audit rows"),
    ("stats", "The last day in numbers"),
    ("lockdown", "Stop everything but admins"),
    ("unlock", "End the lockdown"),
    ("limits", "A user's limits: USER [rate=N ...]"),
    ("unbench", "Reuse a benched credential profile"),
    ("forget", "Erase a user (audit keeps a pseudonym)"),
    ("keys", "rotate: new data key, parked requests re-encrypted"),
)


def known_secrets(config: Config, env: Mapping[str, str], data_key: bytes) -> dict[str, str]:
    """Every secret value this process holds, by name (for exact-value redaction)."""
    refs = {
        "telegram_token": config.platforms.telegram.token,
        "telegram_webhook_secret": config.platforms.telegram.webhook.secret_token,
        "slack_bot_token": config.platforms.slack.bot_token,
        "slack_app_token": config.platforms.slack.app_token,
        "slack_signing_secret": config.platforms.slack.signing_secret,
    }
    out = {name: value for name, ref in refs.items() if (value := config.secret(ref, env))}
    for tool in config.tools:
        for name in tool.secrets:
            if env.get(name):
                out[name] = env[name]
    out["data_key"] = data_key.decode("ascii", "replace")
    return out


def build_redactor(config: Config, secrets: Mapping[str, str] | None = None) -> Redactor:
    """The redactor for this config (PII kinds switched off in config are left alone)."""
    r = config.redaction
    pii = frozenset(k for k in ALL_PII if r.pii.get(k, True))  # type: ignore[call-overload]
    return Redactor(
        RedactionConfig(
            pii=pii, extra_patterns=tuple((p.name, p.pattern) for p in r.extra_patterns)
        ),
        known_secrets=dict(secrets or {}),
    )


def build_scanner(config: Config) -> Scanner:
    """The injection scanner for this config."""
    i = config.injection
    return Scanner(
        ScannerConfig(
            extra_patterns=tuple(
                (p.name, p.pattern, ThreatLevel[p.level.upper()]) for p in i.extra_patterns
            ),
            max_input=i.max_input,
        )
    )


def build_sandbox(config: Config, *, protected: Sequence[str] = ()) -> Sandbox:
    """The sandbox for this config."""
    s = config.sandbox
    bwrap = s.bwrap_path
    if "/" not in bwrap:
        import shutil

        bwrap = shutil.which(bwrap) or f"/nonexistent/{bwrap}"
    return Sandbox(
        SandboxConfig(
            allow_weak_isolation=s.allow_weak_isolation,
            sandbox_uid=s.uid,
            sandbox_gid=s.gid,
            max_concurrent=s.max_concurrent,
            default_limits=limits_for(Limits(), s.limits),
            protected_paths=tuple(protected),
            bwrap_path=bwrap,
            uid_switch=s.uid_switch,
        )
    )


class DbAudit:
    """The pipeline's audit sink: redacts each row's detail, then appends to the hash chain."""

    def __init__(
        self, db: Database, redact: Callable[[str], str], metrics: Metrics | None = None
    ) -> None:
        self._db = db
        self._redact = redact
        self._metrics = metrics
        self._seen: dict[str, str] = {}  # short values repeat (codes, rule names): redact each once

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            if len(value) > 200:
                return self._redact(value)
            clean = self._seen.get(value)
            if clean is None:
                if len(self._seen) > 4096:
                    self._seen.clear()
                clean = self._seen[value] = self._redact(value)
            return clean
        if isinstance(value, dict):
            return {str(k): self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return value

    async def write(self, records: Sequence[AuditEvent]) -> None:
        """Append the records in one transaction."""
        import dataclasses

        cleaned = [dataclasses.replace(r, detail=self._clean(dict(r.detail))) for r in records]
        await self._db.audit.append_many(cleaned)
        if self._metrics is not None:
            self._observe(self._metrics, cleaned)

    @staticmethod
    def _observe(metrics: Metrics, events: Sequence[AuditEvent]) -> None:
        metrics.observe_audit(events)
        for e in events:
            if e.stage == "execute" and "duration_ms" in e.detail:
                metrics.observe_run(e.tool, e.reason, float(e.detail["duration_ms"]) / 1000)
            if e.stage == "deliver" and isinstance(e.detail.get("redactions"), dict):
                metrics.observe_redactions(e.detail["redactions"])


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
    ) -> None:
        self.config = config
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
        self._messages: Pipeline | None = None
        self._buttons: Pipeline | None = None

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
        self.db = await Database.open(db_path, cipher=cipher)
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
        audit = DbAudit(self.db, redactor.redact_text, self.metrics)
        outbox = Outbox(redact=lambda t: _counts(redactor, t), audit=audit, clock=self.clock)
        self.services = Services(
            config=c,
            env=self.env,
            db=self.db,
            sandbox=sandbox,
            scanner=build_scanner(c),
            redactor=redactor,
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
            else self._build_adapters(audit)
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
        self.jobs.start()
        for adapter in self.adapters:
            self._tasks.append(
                asyncio.create_task(self._serve(adapter), name=f"serve-{adapter.platform}")
            )

    async def _serve(self, adapter: Adapter) -> None:
        try:
            await adapter.serve(self._deliver)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the %s adapter stopped with an error", adapter.platform)

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
        if self.metrics_server is not None:
            await self.metrics_server.stop()
            self.metrics_server = None
        if self.db is not None:
            await self.db.close()
            self.db = None

    # --- adapters ----------------------------------------------------------------------------

    def _build_adapters(self, audit: DbAudit) -> list[Adapter]:
        c, env = self.config, self.env
        out: list[Adapter] = []

        async def security_event(kind: str, detail: Mapping[str, object]) -> None:
            event = AuditEvent(
                ts=self.clock(),
                event_id=f"security:{kind}",
                stage="adapter",
                decision="deny",
                reason=kind,
                detail=dict(detail),
            )
            try:
                await audit.write((event,))
            except Exception:
                log.exception("auditing a security event failed")

        tg = c.platforms.telegram
        tg_token = c.secret(tg.token, env)
        if tg.enabled and tg_token:
            out.append(self._telegram(tg_token, security_event))
        sl = c.platforms.slack
        sl_token = c.secret(sl.bot_token, env)
        if sl.enabled and sl_token:
            out.append(self._slack(sl_token, security_event))
        console = c.platforms.console.enabled
        if console is True or (console == "auto" and not out):
            stdin, stdout = self._console_io if self._console_io is not None else (None, None)
            out.append(ConsoleAdapter(stdin=stdin, stdout=stdout, clock=self.clock))
        return out

    def _telegram(self, token: str, hook: Any) -> Adapter:
        from adapters.telegram.adapter import TelegramAdapter
        from adapters.telegram.webhook import TelegramWebhook

        tg = self.config.platforms.telegram
        webhook = None
        if tg.webhook.enabled:
            secret = self.config.secret(tg.webhook.secret_token, self.env)
            if not secret:
                raise StartupError(
                    "platforms.telegram.webhook.secret_token: its environment variable is not set"
                )
            webhook = TelegramWebhook(
                secret_token=secret,
                listen_host=tg.webhook.listen,
                port=tg.webhook.port,
                path=tg.webhook.path,
                public_url=tg.webhook.url,
                max_body_bytes=tg.webhook.max_body_bytes,
            )
        admin_ids = [
            int(k.split(":")[2])
            for k in self.config.roles.admins
            if k.startswith("telegram:") and k.split(":")[2].lstrip("-").isdigit()
        ]
        return TelegramAdapter(
            token=token,
            api_base_url=tg.api_base_url,
            mode="webhook" if webhook is not None else "polling",
            webhook=webhook,
            commands=USER_COMMANDS,
            admin_commands=ADMIN_COMMANDS,
            admin_user_ids=admin_ids,
            on_security_event=hook,
        )

    def _slack(self, token: str, hook: Any) -> Adapter:
        from adapters.slack.adapter import SlackAdapter

        sl = self.config.platforms.slack
        app_token = self.config.secret(sl.app_token, self.env) or ""
        signing = self.config.secret(sl.signing_secret, self.env) or ""
        if sl.mode == "socket" and not app_token:
            raise StartupError(
                "platforms.slack.app_token: socket mode needs it; set its environment variable"
            )
        if sl.mode == "http" and not signing:
            raise StartupError(
                "platforms.slack.signing_secret: http mode needs it; set its environment variable"
            )
        try:
            return self._slack_adapter(SlackAdapter, token, app_token, signing, hook)
        except ValueError as e:  # a wrongly-kinded token, named by its config key
            raise StartupError(str(e)) from None

    def _slack_adapter(
        self, cls: Any, token: str, app_token: str, signing: str, hook: Any
    ) -> Adapter:
        sl = self.config.platforms.slack
        adapter: Adapter = cls(
            bot_token=token,
            mode=sl.mode,
            app_token=app_token,
            signing_secret=signing,
            api_base_url=sl.api_base_url,
            http_host=sl.http.host,
            http_port=sl.http.port,
            http_path=sl.http.path,
            command=sl.command,
            max_body_bytes=sl.http.max_body_bytes,
            on_security_event=hook,
        )
        return adapter


def _counts(redactor: Redactor, text: str) -> tuple[str, Mapping[str, int]]:
    result = redactor.redact(text)
    return result.text, result.counts
