"""Validation of the values that cross the boundary: RunSpec, Limits, SandboxConfig."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from sandbox import InvalidRunSpec, Limits, RunSpec, SandboxConfig

BAD_SPECS: list[tuple[str, dict[str, Any], str]] = [
    ("no-command", {}, "argv"),
    ("both", {"argv": ("true",), "python": "pass"}, "argv"),
    ("bad-run-id", {"run_id": "a b", "argv": ("true",)}, "run_id"),
    ("args-with-argv", {"argv": ("true",), "args": ("x",)}, "args"),
    ("nul-in-argv", {"argv": ("echo", "a\0b")}, "argv[1]"),
    ("empty-argv0", {"argv": ("",)}, "argv[0]"),
    ("secret-overrides-path", {"argv": ("true",), "secrets": {"PATH": "/x"}}, "secrets"),
    ("secret-ld-preload", {"argv": ("true",), "secrets": {"LD_PRELOAD": "/x.so"}}, "secrets"),
    ("secret-pythonpath", {"argv": ("true",), "secrets": {"PYTHONPATH": "/x"}}, "secrets"),
    ("secret-lowercase", {"argv": ("true",), "secrets": {"api_key": "v"}}, "secrets"),
    ("modules-for-argv", {"argv": ("true",), "allowed_modules": ("os",)}, "allowed_modules"),
    ("dotted-module", {"python": "pass", "allowed_modules": ("os.path",)}, "allowed_modules"),
]


@pytest.mark.parametrize(
    ("fields", "field"), [c[1:] for c in BAD_SPECS], ids=[c[0] for c in BAD_SPECS]
)
def test_bad_run_specs_are_rejected(fields: dict[str, Any], field: str) -> None:
    """A malformed spec raises InvalidRunSpec naming the field, without echoing values."""
    fields.setdefault("run_id", "r")
    with pytest.raises(InvalidRunSpec) as info:
        RunSpec(**fields)
    assert info.value.field == field
    assert "/x" not in str(info.value)


def test_secrets_are_copied_and_read_only() -> None:
    """The spec keeps its own read-only copy of the secrets mapping."""
    secrets = {"TOKEN": "v"}
    spec = RunSpec(run_id="r", argv=("true",), secrets=secrets)
    secrets["TOKEN"] = "changed"
    assert spec.secrets["TOKEN"] == "v"
    with pytest.raises(TypeError):
        spec.secrets["TOKEN"] = "x"  # type: ignore[index]


BAD_LIMITS = [
    ("zero-wall", {"wall_seconds": 0}),
    ("negative-cpu", {"cpu_seconds": -1}),
    ("one-process", {"max_processes": 1}),
    ("few-files", {"open_files": 3}),
    ("bool", {"output_bytes": True}),
    ("huge-wall", {"wall_seconds": 10**9}),
]


@pytest.mark.parametrize("fields", [c[1] for c in BAD_LIMITS], ids=[c[0] for c in BAD_LIMITS])
def test_bad_limits_are_rejected(fields: dict[str, Any]) -> None:
    """Non-positive or absurd limits raise InvalidRunSpec."""
    with pytest.raises(InvalidRunSpec):
        Limits(**fields)


def test_limits_render_prlimit_and_rlimits() -> None:
    """Limits become a prlimit prefix with soft/hard values."""
    limits = Limits(cpu_seconds=5, max_processes=10)
    argv = limits.prlimit_argv()
    assert "--cpu=5:6" in argv
    assert "--nproc=10" in argv
    assert argv[-1] == "--"


BAD_BINDS = [
    ("root", "/"),
    ("home", "/home/alice"),
    ("root-home", "/root"),
    ("run-sockets", "/run"),
    ("relative", "usr/share"),
    ("venv", sys.prefix),
    ("data-dir", "/srv/botdata"),
    ("data-parent", "/srv"),
    ("under-data", "/srv/botdata/sub"),
    ("etc", "/etc"),
]


@pytest.mark.parametrize("path", [c[1] for c in BAD_BINDS], ids=[c[0] for c in BAD_BINDS])
def test_dangerous_extra_binds_are_rejected(path: str) -> None:
    """Binding the root, homes, /run, the venv or a protected path is a config error."""
    with pytest.raises(InvalidRunSpec) as info:
        SandboxConfig(extra_ro_binds=(path,), protected_paths=("/srv/botdata",))
    assert info.value.field == "sandbox.extra_ro_binds"


def test_harmless_extra_bind_is_accepted() -> None:
    """A tool directory outside every protected area may be bound read-only."""
    cfg = SandboxConfig(extra_ro_binds=("/opt/tools",), protected_paths=("/srv/botdata",))
    assert cfg.extra_ro_binds == ("/opt/tools",)


def test_root_sandbox_uid_is_rejected() -> None:
    """uid 0 cannot be the sandbox uid."""
    with pytest.raises(InvalidRunSpec):
        SandboxConfig(sandbox_uid=0)
