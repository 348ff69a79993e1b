"""Building the parts from the config: detectors, sandbox, the audit sink, the platform adapters.

Plain functions the composition root (`bot/app.py`) and the command line call;
they hold no state of their own.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from adapters.base import Adapter
from adapters.console import ConsoleAdapter
from bot.config import Config
from bot.errors import StartupError, where
from bot.floods import FLOOD_KINDS, FloodCounter
from bot.metrics import Metrics
from bot.stages.execute import limits_for
from policy.injection import Scanner, ScannerConfig, ThreatLevel
from policy.redaction import ALL_PII, RedactionConfig, Redactor
from sandbox import Limits, Sandbox, SandboxConfig
from storage import Database
from storage.audit import AuditEvent

__all__ = [
    "ADMIN_COMMANDS",
    "USER_COMMANDS",
    "DbAudit",
    "build_adapters",
    "build_redactor",
    "build_sandbox",
    "build_scanner",
    "head_log_path",
    "known_secrets",
    "redact_counting",
    "syslog_head_copy",
]

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
    ("explain", "Why a user may or may not run a tool: USER TOOL [args]"),
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


def head_log_path(config: Config) -> Path:
    """Where the signed audit head log lives: `audit.head_log`, else beside the data directory.

    Outside the data directory on purpose: putting an older copy of that directory back
    (a backup) leaves the head log as it was, so the rollback shows.
    """
    if config.audit.head_log:
        p = Path(config.audit.head_log)
        return p if p.is_absolute() else Path(config.base_dir) / p
    db = config.db_path
    data_dir = db.parent.resolve()
    return data_dir.parent / f"{data_dir.name}-{db.stem}.audit-head"


def syslog_head_copy(address: str = "/dev/log") -> Callable[[str], None]:
    """A copy of the newest signed audit head for syslog / journald (`audit.head_log_syslog`).

    The line is the signed head line itself, so `frontdoor audit verify --head FILE`
    takes an extract of the shipped logs as it is.
    """
    import logging.handlers

    logger = logging.getLogger("frontdoor.audit_head")
    logger.propagate = False
    if not logger.handlers:
        handler = logging.handlers.SysLogHandler(address=address)
        handler.setFormatter(logging.Formatter("frontdoor: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger.info


def build_adapters(
    config: Config,
    env: Mapping[str, str],
    *,
    clock: Callable[[], datetime],
    audit: DbAudit,
    console_io: tuple[TextIO, TextIO] | None = None,
    floods: FloodCounter | None = None,
) -> list[Adapter]:
    """The adapters this config and environment ask for (the console when nothing else starts).

    Refusals of unauthenticated HTTP requests go to `floods` (a counter, summarised once
    a minute) rather than one audit row each; other security events are audited each.
    """
    out: list[Adapter] = []

    async def security_event(kind: str, detail: Mapping[str, object]) -> None:
        if floods is not None and kind in FLOOD_KINDS:
            floods.count(kind, detail, clock())
            return
        event = AuditEvent(
            ts=clock(),
            event_id=f"security:{kind}",
            stage="adapter",
            decision="deny",
            reason=kind,
            detail=dict(detail),
        )
        try:
            await audit.write((event,))
        except Exception as e:  # noqa: BLE001 - the request is refused either way
            log.error("auditing a security event failed: %s at %s", type(e).__name__, where(e))

    tg = config.platforms.telegram
    tg_token = config.secret(tg.token, env)
    if tg.enabled and tg_token:
        out.append(_telegram(config, env, tg_token, security_event))
    sl = config.platforms.slack
    sl_token = config.secret(sl.bot_token, env)
    if sl.enabled and sl_token:
        out.append(_slack(config, env, sl_token, security_event))
    console = config.platforms.console.enabled
    if console is True or (console == "auto" and not out):
        stdin, stdout = console_io if console_io is not None else (None, None)
        out.append(ConsoleAdapter(stdin=stdin, stdout=stdout, clock=clock))
    return out


def _telegram(config: Config, env: Mapping[str, str], token: str, hook: Any) -> Adapter:
    from adapters.telegram.adapter import TelegramAdapter
    from adapters.telegram.webhook import TelegramWebhook

    tg = config.platforms.telegram
    webhook = None
    if tg.webhook.enabled:
        secret = config.secret(tg.webhook.secret_token, env)
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
        for k in config.roles.admins
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


def _slack(config: Config, env: Mapping[str, str], token: str, hook: Any) -> Adapter:
    from adapters.slack.adapter import SlackAdapter

    sl = config.platforms.slack
    app_token = config.secret(sl.app_token, env) or ""
    signing = config.secret(sl.signing_secret, env) or ""
    if sl.mode == "socket" and not app_token:
        raise StartupError(
            "platforms.slack.app_token: socket mode needs it; set its environment variable"
        )
    if sl.mode == "http" and not signing:
        raise StartupError(
            "platforms.slack.signing_secret: http mode needs it; set its environment variable"
        )
    try:
        return SlackAdapter(
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
    except ValueError as e:  # a wrongly-kinded token, named by its config key
        raise StartupError(str(e)) from None


def redact_counting(redactor: Redactor, text: str) -> tuple[str, Mapping[str, int]]:
    result = redactor.redact(text)
    return result.text, result.counts
