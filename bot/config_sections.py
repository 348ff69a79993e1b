"""The sections of `config.yaml`, as frozen pydantic models that forbid unknown keys.

Each model documents its key; `bot/config.py` puts them together, loads the file
and checks what no single section can (contradictions between sections).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policy.autonomy import Risk
from policy.tools import ArgSpec, ArgType, ToolSpec

_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
USER_KEY = re.compile(r"^(console|slack|telegram):[^:\s]+:[^:\s]+$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

# Literals that look like credentials. The config must name an environment
# variable instead (`${SLACK_BOT_TOKEN}`).
TOKEN_LIKE = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]{8,}|xapp-[A-Za-z0-9-]{8,}|\b\d{6,12}:AA[A-Za-z0-9_-]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|AKIA[0-9A-Z]{16}"
    r"|sk-[A-Za-z0-9_-]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|glpat-[A-Za-z0-9_-]{16,})"
)


SECRET_WORDS = ("token", "secret", "password", "key")


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like `90`, `15m`, `1h`, `500ms`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 900, '15m' or '1h'")  # noqa: TRY004 - pydantic wants ValueError
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value.strip())):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError("expected a duration such as 900, '15m' or '1h'")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def secret_ref_name(value: str) -> str:
    """The environment variable named by `${NAME}`; raises ValueError for anything else."""
    m = _REF.match(value.strip())
    if not m:
        raise ValueError(
            "secrets are referenced by environment variable name, like ${SLACK_BOT_TOKEN}"
        )
    return m.group(1)


def _check_ref(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    secret_ref_name(value)
    return value.strip()


SecretRef = Annotated[str | None, Field(default=None)]
Duration = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _duration(v: object) -> float:
    return parse_duration(v)


# --- platforms -------------------------------------------------------------------------------


class ConsoleConfig(Section):
    """`platforms.console`: true forces the console on, false off, "auto" runs it when no chat platform starts."""

    enabled: bool | Literal["auto"] = "auto"


class TelegramWebhookConfig(Section):
    """`platforms.telegram.webhook`: receive updates over HTTPS instead of long polling."""

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    path: str = "/telegram/webhook"
    url: str = ""
    secret_token: SecretRef = None
    max_body_bytes: int = Field(default=1 << 20, gt=0)

    @field_validator("secret_token")
    @classmethod
    def _ref(cls, v: str | None) -> str | None:
        return _check_ref(v)


class TelegramConfig(Section):
    """`platforms.telegram`."""

    enabled: bool = True
    token: SecretRef = None
    api_base_url: str = "https://api.telegram.org"
    approvals_chat: str | None = None
    webhook: TelegramWebhookConfig = TelegramWebhookConfig()

    @field_validator("token")
    @classmethod
    def _ref(cls, v: str | None) -> str | None:
        return _check_ref(v)

    @field_validator("approvals_chat", mode="before")
    @classmethod
    def _chat(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v


class SlackHttpConfig(Section):
    """`platforms.slack.http`: where HTTP mode listens for events, interactivity and the command."""

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    path: str = "/slack/events"
    max_body_bytes: int = Field(default=1 << 20, gt=0)


class SlackConfig(Section):
    """`platforms.slack`."""

    enabled: bool = True
    mode: Literal["socket", "http"] = "socket"
    bot_token: SecretRef = None
    app_token: SecretRef = None
    signing_secret: SecretRef = None
    api_base_url: str = "https://slack.com/api/"
    command: str = "/frontdoor"
    http: SlackHttpConfig = SlackHttpConfig()
    approvals_channel: str | None = None

    @field_validator("bot_token", "app_token", "signing_secret")
    @classmethod
    def _ref(cls, v: str | None) -> str | None:
        return _check_ref(v)


class PlatformsConfig(Section):
    """`platforms`."""

    console: ConsoleConfig = ConsoleConfig()
    telegram: TelegramConfig = TelegramConfig(enabled=False)
    slack: SlackConfig = SlackConfig(enabled=False)


# --- storage, sandbox ------------------------------------------------------------------------


class StorageConfig(Section):
    """`storage`: the SQLite file and the name of the env var holding the data key."""

    path: str = "./data/frontdoor.db"
    data_key_env: str = "FRONTDOOR_DATA_KEY"


class LimitsConfig(Section):
    """`sandbox.limits` and `tools[].limits`: per-run resource limits."""

    cpu_seconds: int | None = Field(default=None, gt=0, le=3600)
    memory_mb: int | None = Field(default=None, gt=16, le=65536)
    max_processes: int | None = Field(default=None, gt=0, le=4096)
    file_size_mb: int | None = Field(default=None, gt=0, le=65536)
    open_files: int | None = Field(default=None, gt=3, le=65536)
    output_bytes: int | None = Field(default=None, gt=0, le=1 << 30)
    workspace_mb: int | None = Field(default=None, gt=0, le=65536)


class SandboxSettings(Section):
    """`sandbox`: isolation mode and defaults for every run."""

    allow_weak_isolation: bool = False
    uid: int = Field(default=65534, ge=1)
    gid: int = Field(default=65534, ge=1)
    max_concurrent: int = Field(default=4, ge=1, le=256)
    bwrap_path: str = "bwrap"
    uid_switch: Literal["setpriv", "spawn"] = "setpriv"
    limits: LimitsConfig = LimitsConfig()
    selftest_interval: Annotated[float, Field(gt=0)] = 300.0

    @field_validator("selftest_interval", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


# --- tools -----------------------------------------------------------------------------------


class ArgConfig(Section):
    """`tools[].args.<name>`: one typed argument."""

    type: Literal["str", "int", "choice", "path"] = "str"
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    default: str | int | None = None
    description: str = ""

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression ({e})") from None
        return v


class ToolConfig(Section):
    """`tools[]`: a tool the bot may run, as an argv template (never a shell)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    description: str = ""
    kind: Literal["command", "python"] = "command"
    argv: tuple[str, ...] = ()
    code: str = ""
    args: dict[str, ArgConfig] = Field(default_factory=dict)
    risk: Literal["low", "medium", "high", "critical"] = "high"
    timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    secrets: tuple[str, ...] = ()
    allowed_modules: tuple[str, ...] | None = None
    limits: LimitsConfig = LimitsConfig()
    max_concurrent: int | None = Field(default=None, ge=1)
    credentials: tuple[tuple[str, ...], ...] = ()
    auth_failure_exit_code: int | None = Field(default=None, ge=1, le=255)

    @field_validator("timeout", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)

    def spec(self) -> ToolSpec:
        """The policy's view of this tool (for argument validation and rendering)."""
        return ToolSpec(
            name=self.name,
            kind=self.kind,
            argv=self.argv,
            code=self.code,
            args={
                name: ArgSpec(
                    name=name,
                    type=ArgType(a.type),
                    pattern=a.pattern,
                    choices=a.choices,
                    min=a.min,
                    max=a.max,
                    default=a.default,
                )
                for name, a in self.args.items()
            },
            risk=Risk.parse(self.risk),
            timeout=self.timeout,
            secrets=self.secrets,
            description=self.description,
        )

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return v

    @field_validator("credentials")
    @classmethod
    def _profiles(cls, v: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for profile in v:
            if not profile:
                raise ValueError("a credential profile names at least one environment variable")
            for name in profile:
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise ValueError(f"{name!r} is not an environment variable name")
        return v


# --- permissions, roles, autonomy, approvals -------------------------------------------------


class ToolList(Section):
    """A scope's allowlist: `tools: [..]` (`"*"` means every tool)."""

    tools: tuple[str, ...] = ()


class GroupConfig(Section):
    """`permissions.groups.<g>`."""

    members: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()


class PermissionsConfig(Section):
    """`permissions`: fail-closed allowlists, most specific wins (user > channel > group > global)."""

    global_: ToolList = Field(default=ToolList(), alias="global")
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    channels: dict[str, ToolList] = Field(default_factory=dict)
    users: dict[str, ToolList] = Field(default_factory=dict)


class RolesConfig(Section):
    """`roles`: user ids that are admins and approvers (known without pairing)."""

    admins: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()


AutonomyLevel = Literal["autonomous", "supervised", "approval"]


class AutonomyConfig(Section):
    """`autonomy`: how much runs without a human, by default and per user or channel."""

    default: AutonomyLevel = "supervised"
    users: dict[str, AutonomyLevel] = Field(default_factory=dict)
    channels: dict[str, AutonomyLevel] = Field(default_factory=dict)


class ApprovalsConfig(Section):
    """`approvals`."""

    timeout: Annotated[float, Field(gt=0)] = 900.0
    allow_self_approval: bool = False

    @field_validator("timeout", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


class RateConfig(Section):
    """`rate_limits.per_user`: a token bucket, `rate` per minute with `burst`."""

    rate: float = Field(default=30.0, gt=0)
    burst: int = Field(default=10, ge=1)


class RateLimitsConfig(Section):
    """`rate_limits`."""

    per_user: RateConfig = RateConfig()
    max_concurrent_per_user: int = Field(default=2, ge=1)
    max_concurrent: int = Field(default=8, ge=1)
    cpu_seconds_per_day: float = Field(default=3600.0, gt=0)
    runs_per_day: int = Field(default=1000, ge=1)


InjectionAction = Literal["allow", "warn", "require_approval", "block"]
ThreatName = Literal["low", "medium", "high", "critical"]


def _default_actions() -> dict[ThreatName, InjectionAction]:
    return {"low": "allow", "medium": "warn", "high": "require_approval", "critical": "block"}


class PatternConfig(Section):
    """An extra detector pattern."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    pattern: str
    level: Literal["low", "medium", "high", "critical"] = "high"

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"not a valid regular expression ({e})") from None
        return v


class InjectionConfig(Section):
    """`injection`: what each threat level does, and extra patterns."""

    actions: dict[ThreatName, InjectionAction] = Field(default_factory=_default_actions)
    extra_patterns: tuple[PatternConfig, ...] = ()
    max_input: int = Field(default=65536, gt=0)


class RedactionConfigModel(Section):
    """`redaction`: extra secret patterns and which PII kinds are redacted."""

    pii: dict[Literal["email", "phone", "card", "iban", "ssn", "ip"], bool] = Field(
        default_factory=dict
    )
    extra_patterns: tuple[PatternConfig, ...] = ()


class AuditConfig(Section):
    """`audit`: retention, the signed head log kept outside the database, flood alerts."""

    retention_days: int = Field(default=365, ge=1)
    head_log: str = ""  # "": beside the data directory (<dir>-<db name>.audit-head)
    head_log_syslog: bool = False  # also send the newest signed head to syslog each minute
    head_log_max_mb: int = Field(default=64, ge=1)  # compacted to one line past this size
    flood_alert: int = Field(default=300, ge=1)  # rejected unauthenticated requests a minute


class LoggingConfig(Section):
    """`logging`."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(default=True, alias="json")


class BreakerConfig(Section):
    """`guardrails.breaker`: pause a tool whose runs keep failing."""

    window: Annotated[float, Field(gt=0)] = 600.0
    min_runs: int = Field(default=5, ge=1)
    max_failure_rate: float = Field(default=0.5, ge=0, lt=1)
    cooldown: Annotated[float, Field(gt=0)] = 300.0

    @field_validator("window", "cooldown", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


class StrikesConfig(Section):
    """A count of events within a window."""

    window: Annotated[float, Field(gt=0)] = 3600.0
    threshold: int = Field(default=3, ge=1)

    @field_validator("window", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


class AnomalyConfig(Section):
    """`guardrails.rate_anomaly`: alert when a user's minute is far above their usual rate."""

    factor: float = Field(default=5.0, gt=1)
    floor: int = Field(default=20, ge=1)


class GuardrailsConfig(Section):
    """`guardrails`."""

    breaker: BreakerConfig = BreakerConfig()
    injection_strikes: StrikesConfig = StrikesConfig()
    denial_alerts: StrikesConfig = StrikesConfig(window=600.0, threshold=5)
    rate_anomaly: AnomalyConfig = AnomalyConfig()
    credential_failures: int = Field(default=3, ge=1)
    progress_interval: Annotated[float, Field(gt=0)] = 5.0
    daily_digest: bool = False

    @field_validator("progress_interval", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


class MetricsConfig(Section):
    """`metrics`: a local /healthz and Prometheus /metrics endpoint (off by default)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class RuntimeConfig(Section):
    """`runtime`: process behaviour."""

    shutdown_grace: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("shutdown_grace", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


class DefaultToolConfig(Section):
    """`default_tool`: plain text (not a command) runs this tool with the text as one argument."""

    name: str
    arg: str
