"""Loading and validating `config.yaml`.

The file is parsed into frozen pydantic models that forbid unknown keys: a
misspelt key is an error, not a silently open door. Every problem is gathered
into one `ConfigError` whose lines name the key, the value and what was
expected. Secrets never live in the file: secret fields hold `${ENV_NAME}`
references, resolved against an environment that is passed in explicitly, and a
literal that looks like a credential anywhere in the file is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import ConfigError
from policy.autonomy import Risk
from policy.tools import ArgSpec, ArgType, ToolSpec, check_template

__all__ = [
    "ArgConfig",
    "Config",
    "SecretRef",
    "ToolConfig",
    "load_config",
    "parse_config",
    "parse_duration",
    "secret_ref_name",
]

_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_USER_KEY = re.compile(r"^(console|slack|telegram):[^:\s]+:[^:\s]+$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

# Literals that look like credentials. The config must name an environment
# variable instead (`${SLACK_BOT_TOKEN}`).
_TOKEN_LIKE = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]{8,}|xapp-[A-Za-z0-9-]{8,}|\b\d{6,12}:AA[A-Za-z0-9_-]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|AKIA[0-9A-Z]{16}"
    r"|sk-[A-Za-z0-9_-]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|glpat-[A-Za-z0-9_-]{16,})"
)


_SECRET_WORDS = ("token", "secret", "password", "key")


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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _duration(v: object) -> float:
    return parse_duration(v)


# --- platforms -------------------------------------------------------------------------------


class ConsoleConfig(_Model):
    """`platforms.console`: true forces the console on, false off, "auto" runs it when no chat platform starts."""

    enabled: bool | Literal["auto"] = "auto"


class TelegramWebhookConfig(_Model):
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


class TelegramConfig(_Model):
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


class SlackHttpConfig(_Model):
    """`platforms.slack.http`: where HTTP mode listens for events, interactivity and the command."""

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    path: str = "/slack/events"
    max_body_bytes: int = Field(default=1 << 20, gt=0)


class SlackConfig(_Model):
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


class PlatformsConfig(_Model):
    """`platforms`."""

    console: ConsoleConfig = ConsoleConfig()
    telegram: TelegramConfig = TelegramConfig(enabled=False)
    slack: SlackConfig = SlackConfig(enabled=False)


# --- storage, sandbox ------------------------------------------------------------------------


class StorageConfig(_Model):
    """`storage`: the SQLite file and the name of the env var holding the data key."""

    path: str = "./data/frontdoor.db"
    data_key_env: str = "FRONTDOOR_DATA_KEY"


class LimitsConfig(_Model):
    """`sandbox.limits` and `tools[].limits`: per-run resource limits."""

    cpu_seconds: int | None = Field(default=None, gt=0, le=3600)
    memory_mb: int | None = Field(default=None, gt=16, le=65536)
    max_processes: int | None = Field(default=None, gt=0, le=4096)
    file_size_mb: int | None = Field(default=None, gt=0, le=65536)
    open_files: int | None = Field(default=None, gt=3, le=65536)
    output_bytes: int | None = Field(default=None, gt=0, le=1 << 30)
    workspace_mb: int | None = Field(default=None, gt=0, le=65536)


class SandboxSettings(_Model):
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


class ArgConfig(_Model):
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


class ToolConfig(_Model):
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


class ToolList(_Model):
    """A scope's allowlist: `tools: [..]` (`"*"` means every tool)."""

    tools: tuple[str, ...] = ()


class GroupConfig(_Model):
    """`permissions.groups.<g>`."""

    members: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()


class PermissionsConfig(_Model):
    """`permissions`: fail-closed allowlists, most specific wins (user > channel > group > global)."""

    global_: ToolList = Field(default=ToolList(), alias="global")
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    channels: dict[str, ToolList] = Field(default_factory=dict)
    users: dict[str, ToolList] = Field(default_factory=dict)


class RolesConfig(_Model):
    """`roles`: user ids that are admins and approvers (known without pairing)."""

    admins: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()


AutonomyLevel = Literal["autonomous", "supervised", "approval"]


class AutonomyConfig(_Model):
    """`autonomy`: how much runs without a human, by default and per user or channel."""

    default: AutonomyLevel = "supervised"
    users: dict[str, AutonomyLevel] = Field(default_factory=dict)
    channels: dict[str, AutonomyLevel] = Field(default_factory=dict)


class ApprovalsConfig(_Model):
    """`approvals`."""

    timeout: Annotated[float, Field(gt=0)] = 900.0
    allow_self_approval: bool = False

    @field_validator("timeout", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


class RateConfig(_Model):
    """`rate_limits.per_user`: a token bucket, `rate` per minute with `burst`."""

    rate: float = Field(default=30.0, gt=0)
    burst: int = Field(default=10, ge=1)


class RateLimitsConfig(_Model):
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


class PatternConfig(_Model):
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


class InjectionConfig(_Model):
    """`injection`: what each threat level does, and extra patterns."""

    actions: dict[ThreatName, InjectionAction] = Field(default_factory=_default_actions)
    extra_patterns: tuple[PatternConfig, ...] = ()
    max_input: int = Field(default=65536, gt=0)


class RedactionConfigModel(_Model):
    """`redaction`: extra secret patterns and which PII kinds are redacted."""

    pii: dict[Literal["email", "phone", "card", "iban", "ssn", "ip"], bool] = Field(
        default_factory=dict
    )
    extra_patterns: tuple[PatternConfig, ...] = ()


class AuditConfig(_Model):
    """`audit`."""

    retention_days: int = Field(default=365, ge=1)


class LoggingConfig(_Model):
    """`logging`."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(default=True, alias="json")


class BreakerConfig(_Model):
    """`guardrails.breaker`: pause a tool whose runs keep failing."""

    window: Annotated[float, Field(gt=0)] = 600.0
    min_runs: int = Field(default=5, ge=1)
    max_failure_rate: float = Field(default=0.5, ge=0, lt=1)
    cooldown: Annotated[float, Field(gt=0)] = 300.0

    @field_validator("window", "cooldown", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


class StrikesConfig(_Model):
    """A count of events within a window."""

    window: Annotated[float, Field(gt=0)] = 3600.0
    threshold: int = Field(default=3, ge=1)

    @field_validator("window", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


class AnomalyConfig(_Model):
    """`guardrails.rate_anomaly`: alert when a user's minute is far above their usual rate."""

    factor: float = Field(default=5.0, gt=1)
    floor: int = Field(default=20, ge=1)


class GuardrailsConfig(_Model):
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


class MetricsConfig(_Model):
    """`metrics`: a local /healthz and Prometheus /metrics endpoint (off by default)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class RuntimeConfig(_Model):
    """`runtime`: process behaviour."""

    shutdown_grace: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("shutdown_grace", mode="before")
    @classmethod
    def _dur(cls, v: object) -> float:
        return _duration(v)


class DefaultToolConfig(_Model):
    """`default_tool`: plain text (not a command) runs this tool with the text as one argument."""

    name: str
    arg: str


class Config(_Model):
    """The whole configuration."""

    platforms: PlatformsConfig = PlatformsConfig()
    storage: StorageConfig = StorageConfig()
    sandbox: SandboxSettings = SandboxSettings()
    tools: tuple[ToolConfig, ...] = ()
    permissions: PermissionsConfig = PermissionsConfig()
    roles: RolesConfig = RolesConfig()
    autonomy: AutonomyConfig = AutonomyConfig()
    approvals: ApprovalsConfig = ApprovalsConfig()
    rate_limits: RateLimitsConfig = RateLimitsConfig()
    injection: InjectionConfig = InjectionConfig()
    redaction: RedactionConfigModel = RedactionConfigModel()
    audit: AuditConfig = AuditConfig()
    logging: LoggingConfig = LoggingConfig()
    default_tool: DefaultToolConfig | None = None
    guardrails: GuardrailsConfig = GuardrailsConfig()
    metrics: MetricsConfig = MetricsConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    # where the file was loaded from; relative paths in it resolve against its folder
    base_dir: str = "."

    def tool(self, name: str) -> ToolConfig | None:
        """The tool called `name`, if configured."""
        return next((t for t in self.tools if t.name == name), None)

    @property
    def db_path(self) -> Path:
        """`storage.path`, resolved against the config file's folder."""
        p = Path(self.storage.path)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def secret(self, ref: str | None, env: Mapping[str, str]) -> str | None:
        """Resolve a `${NAME}` reference against `env`; None when unset or empty."""
        if not ref:
            return None
        value = env.get(secret_ref_name(ref), "")
        return value or None


# --- loading -------------------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read, parse and validate the YAML file at `path`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{p}: no such file (copy config.example.yaml to start)"]) from None
    except OSError as e:
        raise ConfigError([f"{p}: cannot read ({e.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{p}: not valid YAML{where}"]) from None
    return parse_config(data if data is not None else {}, base_dir=p.resolve().parent)


def parse_config(data: object, *, base_dir: str | Path = ".") -> Config:
    """Validate a parsed YAML document; every problem is reported at once."""
    if not isinstance(data, dict):
        raise ConfigError(["(top level): expected a mapping of sections"])
    problems = list(_literal_secrets(data))
    try:
        config = Config.model_validate({**data, "base_dir": str(base_dir)})
    except ValidationError as e:
        problems.extend(_describe(err) for err in e.errors())
        raise ConfigError(problems) from None
    problems.extend(_contradictions(config))
    if problems:
        raise ConfigError(problems)
    return config


def _describe(err: Any) -> str:
    loc = ""
    for part in err["loc"]:
        if isinstance(part, int):
            loc += f"[{part}]"
        elif not str(part).startswith("function-"):
            loc += f".{part}" if loc else str(part)
    loc = loc.replace("global_", "global") or "(top level)"
    value = err.get("input")
    secret_field = any(w in loc.rsplit(".", 1)[-1] for w in _SECRET_WORDS)
    hidden = isinstance(value, dict | list) or value is None or secret_field
    hidden = hidden or (isinstance(value, str) and _TOKEN_LIKE.search(value) is not None)
    shown = "" if hidden else f" (got {value!r:.60})"
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        msg = "unknown key; check the spelling against config.example.yaml"
        shown = ""
    msg = msg.removeprefix("Value error, ")
    return f"{loc}: {msg}{shown}"


def _literal_secrets(data: object, path: str = "") -> Iterator[str]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _literal_secrets(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _literal_secrets(v, f"{path}[{i}]")
    elif isinstance(data, str) and _TOKEN_LIKE.search(data):
        yield (
            f"{path}: looks like a literal credential; put it in the environment and "
            "reference it as ${NAME}"
        )


def _contradictions(c: Config) -> Iterator[str]:
    names = [t.name for t in c.tools]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            yield f"tools: the name {n!r} is used twice"
        seen.add(n)
    known = set(names) | {"*"}
    for i, t in enumerate(c.tools):
        yield from (f"tools[{i}] ({t.name}): {p}" for p in _tool_problems(t))
    scopes: list[tuple[str, tuple[str, ...]]] = [
        ("permissions.global.tools", c.permissions.global_.tools)
    ]
    scopes += [(f"permissions.groups.{g}.tools", v.tools) for g, v in c.permissions.groups.items()]
    scopes += [
        (f"permissions.channels.{ch}.tools", v.tools) for ch, v in c.permissions.channels.items()
    ]
    scopes += [(f"permissions.users.{u}.tools", v.tools) for u, v in c.permissions.users.items()]
    for where, tools in scopes:
        for tool in tools:
            if tool not in known:
                yield f"{where}: unknown tool {tool!r} (configured: {', '.join(names) or 'none'})"
    users = [("roles.admins", u) for u in c.roles.admins] + [
        ("roles.approvers", u) for u in c.roles.approvers
    ]
    users += [
        (f"permissions.groups.{g}.members", u)
        for g, v in c.permissions.groups.items()
        for u in v.members
    ]
    users += [("permissions.users", u) for u in c.permissions.users]
    users += [("autonomy.users", u) for u in c.autonomy.users]
    for where, u in users:
        if not _USER_KEY.match(u):
            yield f"{where}: {u!r} is not a user id; write it as platform:tenant:user, e.g. telegram:telegram:123456"
    for where, ch in [("permissions.channels", ch) for ch in c.permissions.channels] + [
        ("autonomy.channels", ch) for ch in c.autonomy.channels
    ]:
        if not _USER_KEY.match(ch):
            yield f"{where}: {ch!r} is not a channel id; write it as platform:tenant:channel, e.g. slack:T0123:C0456"
    if c.default_tool is not None:
        dt = c.tool(c.default_tool.name)
        if dt is None:
            yield f"default_tool.name: unknown tool {c.default_tool.name!r}"
        elif c.default_tool.arg not in dt.args:
            yield f"default_tool.arg: tool {dt.name!r} has no argument {c.default_tool.arg!r}"
    tg, sl = c.platforms.telegram, c.platforms.slack
    if tg.enabled and tg.webhook.enabled:
        if not tg.webhook.url:
            yield "platforms.telegram.webhook.url: required when the webhook is enabled"
        if not tg.webhook.secret_token:
            yield "platforms.telegram.webhook.secret_token: required when the webhook is enabled"
    if sl.enabled and sl.mode == "http" and not sl.signing_secret:
        yield "platforms.slack.signing_secret: required in http mode (requests are verified with it)"
    if sl.enabled and sl.mode == "socket" and not sl.app_token:
        yield "platforms.slack.app_token: required in socket mode (an xapp- token, by env name)"


def _tool_problems(t: ToolConfig) -> Iterator[str]:
    for problem in check_template(t.spec()):
        problem = problem.split(": ", 1)[1] if problem.startswith("tool ") else problem
        if t.kind == "python" and problem.startswith("argv[0] (the program)"):
            continue  # a python tool's argv is sys.argv[1:], not a program
        yield problem
    if t.kind == "python":
        used = "".join(t.argv)
        for name in t.args:
            if "{" + name + "}" not in used:
                yield f"argument {name!r} is declared but not used in argv (it reaches the code as sys.argv)"
    if t.kind == "command" and t.allowed_modules is not None:
        yield "allowed_modules: only python tools take allowed_modules"
    if t.credentials and t.auth_failure_exit_code is None:
        yield "auth_failure_exit_code: needed with credentials (the exit code that means 'try the next profile')"
    if t.auth_failure_exit_code is not None and not t.credentials:
        yield "credentials: auth_failure_exit_code needs at least one credential profile"
