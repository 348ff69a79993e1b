"""Values that cross the sandbox boundary: configuration, run request, run result, live-run view.

All are frozen, slotted, keyword-only dataclasses. ``RunSpec`` validates itself on construction
(one of ``argv`` or ``python``; secret names are plain environment names that cannot override
the environment allowlist or the dynamic loader); ``SandboxConfig`` refuses read-only binds that
would expose the root, a home, /run (sockets), the bot's venv or a protected path.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from types import MappingProxyType

from sandbox.errors import InvalidRunSpec
from sandbox.limits import Limits

_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
_RUN_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED_ENV = frozenset({"PATH", "HOME", "LANG", "PWD", "SHELL", "IFS", "ENV", "BASH_ENV"})
_RESERVED_PREFIXES = ("LD_", "PYTHON", "BASH_FUNC", "GCONV", "LOCPATH", "MALLOC", "GLIBC")
_NEVER_BIND = ("/", "/home", "/root", "/run", "/var/run", "/sys", "/proc", "/dev", "/etc", "/tmp")  # noqa: S108


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxConfig:
    """How the sandbox isolates runs; the defaults are the production configuration.

    ``uid_switch`` says how a root bot drops to ``sandbox_uid``/``sandbox_gid``: ``"spawn"``
    passes ``user=``/``group=``/``extra_groups=[]`` to ``create_subprocess_exec`` (CPython must
    then fork() instead of vfork(), which costs time proportional to the bot's memory);
    ``"setpriv"`` execs ``/usr/bin/setpriv --reuid --regid --clear-groups`` first (one small
    exec, vfork kept). Both give the same identity; the self-test checks it either way.
    """

    allow_weak_isolation: bool = False
    sandbox_uid: int | None = 65534
    sandbox_gid: int | None = 65534
    max_concurrent: int = 4
    default_limits: Limits = field(default_factory=Limits)
    extra_ro_binds: tuple[str, ...] = ()
    protected_paths: tuple[str, ...] = ()
    bwrap_path: str = "/usr/bin/bwrap"
    python_path: str = "/usr/bin/python3"
    env_path: str = "/usr/bin:/bin"
    lang: str = "C.UTF-8"
    watchdog_first_poll: float = 0.1
    watchdog_interval: float = 0.05
    uid_switch: str = "spawn"

    def __post_init__(self) -> None:
        """Validate uids, concurrency and every extra bind."""
        if self.max_concurrent < 1:
            raise InvalidRunSpec("sandbox.max_concurrent", "must be at least 1")
        for name in ("sandbox_uid", "sandbox_gid"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidRunSpec(f"sandbox.{name}", "must be a positive, non-root id")
        if self.uid_switch not in ("spawn", "setpriv"):
            raise InvalidRunSpec("sandbox.uid_switch", "must be 'spawn' or 'setpriv'")
        if self.watchdog_first_poll <= 0 or self.watchdog_interval <= 0:
            raise InvalidRunSpec("sandbox.watchdog", "poll delays must be positive")
        for path in self.extra_ro_binds:
            problem = _bind_problem(path, self.protected_paths)
            if problem:
                raise InvalidRunSpec("sandbox.extra_ro_binds", f"{path!r} {problem}")


def _bind_problem(path: str, protected: tuple[str, ...]) -> str | None:
    """Say why ``path`` must not be bound into the sandbox, or None when it may be."""
    if not path.startswith("/"):
        return "must be absolute"
    norm = PurePosixPath(os.path.normpath(path))
    forbidden = [PurePosixPath(p) for p in (*protected, sys.prefix, os.path.expanduser("~"))]
    if str(norm) in _NEVER_BIND:
        return "may not be bound"
    for bad in (*forbidden, *(PurePosixPath(p) for p in _NEVER_BIND[1:6])):
        if norm == bad or bad in norm.parents or norm in bad.parents:
            return f"overlaps {bad}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """One request to run an already-rendered argv, or a Python snippet, in the sandbox."""

    run_id: str
    argv: tuple[str, ...] = ()
    python: str | None = None
    args: tuple[str, ...] = ()
    secrets: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    stdin: bytes = b""
    limits: Limits | None = None
    requested_by: str = ""
    tool: str = ""
    allowed_modules: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        """Check the shape of the request; never echo values, only field names."""
        if not _RUN_ID.fullmatch(self.run_id):
            raise InvalidRunSpec("run_id", "must be 1-128 of [A-Za-z0-9_.:@-]")
        if (self.python is None) == (not self.argv):
            raise InvalidRunSpec("argv", "give exactly one of argv or python")
        if self.python is None and self.args:
            raise InvalidRunSpec("args", "only for python snippets; put arguments in argv")
        if self.allowed_modules is not None:
            if self.python is None:
                raise InvalidRunSpec("allowed_modules", "only for python snippets")
            if not all(_MODULE.fullmatch(m) for m in self.allowed_modules):
                raise InvalidRunSpec("allowed_modules", "must be top-level module names")
        for index, part in enumerate((*self.argv, *self.args)):
            if "\0" in part:
                raise InvalidRunSpec(f"argv[{index}]", "contains a NUL byte")
        if self.argv and not self.argv[0]:
            raise InvalidRunSpec("argv[0]", "is empty")
        for name, value in self.secrets.items():
            if not _NAME.fullmatch(name) or name in RESERVED_ENV:
                raise InvalidRunSpec("secrets", f"{name!r} is not an allowed variable name")
            if name.startswith(_RESERVED_PREFIXES):
                raise InvalidRunSpec("secrets", f"{name!r} has a reserved prefix")
            if "\0" in value:
                raise InvalidRunSpec("secrets", f"value of {name!r} contains a NUL byte")
        object.__setattr__(self, "secrets", MappingProxyType(dict(self.secrets)))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """What came out of a run; it always exists, whatever the run did."""

    exit_code: int
    timed_out: bool
    killed_reason: str | None
    stdout: str
    stderr: str
    truncated: bool
    duration_ms: float
    cpu_seconds: float
    secret_values: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveRun:
    """A run in progress, as listed by ``Sandbox.live_runs``."""

    run_id: str
    requested_by: str
    tool: str
    started_at: datetime
    pid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One self-test check: its name, whether it passed, and what was seen."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfTestReport:
    """The outcome of a self-test; ``reason`` names the first failing check when not ``ok``."""

    ok: bool
    checks: tuple[Check, ...]
    reason: str | None
    weak: bool = False
    duration_ms: float = 0.0
