"""Loading and validating `config.yaml`.

The file is parsed into frozen pydantic models (`bot/config_sections.py`) that
forbid unknown keys: a misspelt key is an error, not a silently open door. Every
problem is gathered into one `ConfigError` whose lines name the key, the value
and what was expected. Secrets never live in the file: secret fields hold
`${ENV_NAME}` references, resolved against an environment that is passed in
explicitly, and a literal that looks like a credential anywhere in the file is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config_sections import (
    SECRET_WORDS,
    TOKEN_LIKE,
    USER_KEY,
    ApprovalsConfig,
    ArgConfig,
    AuditConfig,
    AutonomyConfig,
    DefaultToolConfig,
    GuardrailsConfig,
    InjectionConfig,
    LimitsConfig,
    LoggingConfig,
    MetricsConfig,
    PermissionsConfig,
    PlatformsConfig,
    RateLimitsConfig,
    RedactionConfigModel,
    RolesConfig,
    RuntimeConfig,
    SandboxSettings,
    Section,
    StorageConfig,
    ToolConfig,
    parse_duration,
    secret_ref_name,
)
from bot.errors import ConfigError
from policy.tools import check_template

__all__ = [
    "ArgConfig",
    "Config",
    "LimitsConfig",
    "ToolConfig",
    "load_config",
    "parse_config",
    "parse_duration",
    "secret_ref_name",
]


class Config(Section):
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
    secret_field = any(w in loc.rsplit(".", 1)[-1] for w in SECRET_WORDS)
    hidden = isinstance(value, dict | list) or value is None or secret_field
    hidden = hidden or (isinstance(value, str) and TOKEN_LIKE.search(value) is not None)
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
    elif isinstance(data, str) and TOKEN_LIKE.search(data):
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
        if not USER_KEY.match(u):
            yield f"{where}: {u!r} is not a user id; write it as platform:tenant:user, e.g. telegram:telegram:123456"
    for where, ch in [("permissions.channels", ch) for ch in c.permissions.channels] + [
        ("autonomy.channels", ch) for ch in c.autonomy.channels
    ]:
        if not USER_KEY.match(ch):
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
