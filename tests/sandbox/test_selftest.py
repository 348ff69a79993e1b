"""The fail-closed self-test: what it checks, when it refuses, and how loud weak mode is."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Limits, RunSpec, Sandbox, SandboxConfig, SandboxUnavailable
from sandbox.selftest import evaluate

from .conftest import FAST, SANDBOX_UID, processes_of_uid

EXPECTED_CHECKS = {
    "identity", "prlimit", "python", "bwrap", "bwrap_version", "start", "seccomp", "no_new_privs",
    "capabilities", "network", "inet_socket", "pid_namespace", "nested_userns", "ptrace",
    "read_only_root", "clean_env", "env_canary", "file_canary", "workspace_writable", "rlimits",
    "unprivileged", "teardown", "rlimits_argv",
}  # fmt: skip


@pytest.fixture
def fake_bin() -> Iterator[Path]:
    """A world-readable directory for fake bubblewrap binaries (the sandbox uid must exec them)."""
    path = Path(tempfile.mkdtemp(prefix="fake-bwrap-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _script(directory: Path, name: str, body: str) -> str:
    """Write an executable shell script and return its path."""
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return str(path)


async def test_production_configuration_passes_every_check(config: SandboxConfig) -> None:
    """On this machine the production configuration passes all checks, and leaves nothing."""
    sb = Sandbox(config)
    report = await sb.selftest()
    assert report.ok, report.reason
    assert {c.name for c in report.checks} == EXPECTED_CHECKS
    assert all(c.passed for c in report.checks)
    assert not report.weak
    assert sb.available
    assert sb.unavailable_reason is None
    assert os.environ.get("FRONTDOOR_SBX_CANARY") is None
    assert not any(k.startswith("FRONTDOOR_SBX_CANARY") for k in os.environ)
    assert processes_of_uid(SANDBOX_UID) == []


async def test_canary_files_are_removed_after_the_selftest(
    config: SandboxConfig, data_dir: Path
) -> None:
    """The canary planted in a protected path does not outlive the self-test."""
    before = sorted(data_dir.iterdir())
    assert (await Sandbox(config).selftest()).ok
    assert sorted(data_dir.iterdir()) == before


async def test_missing_bwrap_refuses_with_reason() -> None:
    """A bwrap path that does not exist fails the self-test, and run refuses with that reason."""
    sb = Sandbox(SandboxConfig(bwrap_path="/nonexistent/bwrap", default_limits=FAST))
    report = await sb.selftest()
    assert not report.ok
    assert report.reason is not None
    assert report.reason.startswith("bwrap:")
    assert not sb.available
    with pytest.raises(SandboxUnavailable) as info:
        await sb.run(RunSpec(run_id="x", argv=("true",)))
    assert info.value.reason == report.reason
    assert "bwrap" in str(info.value)


async def test_old_bwrap_is_refused(fake_bin: Path) -> None:
    """A bubblewrap older than 0.8 is refused."""
    path = _script(fake_bin, "bwrap", 'echo "bubblewrap 0.7.0"\n')
    report = await Sandbox(SandboxConfig(bwrap_path=path)).selftest()
    assert not report.ok
    assert report.reason is not None
    assert report.reason.startswith("bwrap_version:")


async def test_bwrap_that_cannot_create_namespaces_is_refused(fake_bin: Path) -> None:
    """A sandbox that fails to start (e.g. user namespaces disabled) fails the self-test."""
    body = ('[ "$1" = --version ] && { echo "bubblewrap 0.8.0"; exit 0; }\n'
            'echo "bwrap: Creating new namespace failed: No space left on device" >&2\nexit 1\n')  # fmt: skip
    report = await Sandbox(SandboxConfig(bwrap_path=_script(fake_bin, "bwrap", body))).selftest()
    assert not report.ok
    assert report.reason is not None
    assert report.reason.startswith("start:")
    assert "Creating new namespace failed" in report.reason


async def test_bwrap_that_skips_isolation_is_refused(fake_bin: Path) -> None:
    """A 'bwrap' that just runs the command unisolated is caught by the checks from inside."""
    body = ('[ "$1" = --version ] && { echo "bubblewrap 0.8.0"; exit 0; }\n'
            'while [ "$1" != -- ]; do shift; done; shift\nexec "$@"\n')  # fmt: skip
    sb = Sandbox(SandboxConfig(bwrap_path=_script(fake_bin, "bwrap", body), default_limits=FAST))
    report = await sb.selftest()
    assert not report.ok
    assert report.reason is not None
    assert not sb.available
    with pytest.raises(SandboxUnavailable):
        await sb.run(RunSpec(run_id="x", argv=("true",)))


async def test_root_without_sandbox_uid_is_refused() -> None:
    """When the bot is root and no sandbox uid is configured, runs are refused."""
    assert os.geteuid() == 0
    sb = Sandbox(SandboxConfig(sandbox_uid=None, sandbox_gid=None))
    report = await sb.selftest()
    assert not report.ok
    assert report.reason is not None
    assert "no sandbox uid" in report.reason
    with pytest.raises(SandboxUnavailable):
        await sb.run(RunSpec(run_id="x", argv=("true",)))


async def test_run_before_selftest_runs_it_first(config: SandboxConfig) -> None:
    """The first run performs the self-test instead of running unchecked."""
    sb = Sandbox(config)
    assert sb.last_report is None
    assert not sb.available
    result = await sb.run(RunSpec(run_id="first", argv=("true",)))
    assert result.exit_code == 0
    assert sb.last_report is not None
    assert sb.last_report.ok


async def test_weak_isolation_is_loud_and_limited(
    caplog: pytest.LogCaptureFixture, data_dir: Path
) -> None:
    """With bwrap missing and weak isolation allowed, runs work in weak mode and WARNINGs are logged."""
    cfg = SandboxConfig(bwrap_path="/nonexistent/bwrap", allow_weak_isolation=True,
                        default_limits=FAST, protected_paths=(str(data_dir),))  # fmt: skip
    sb = Sandbox(cfg)
    with caplog.at_level(logging.WARNING, logger="sandbox"):
        report = await sb.selftest()
    assert report.ok, report.reason
    assert report.weak
    assert sb.weak
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("WEAK isolation" in r.getMessage() for r in warnings)
    assert any("allow_weak_isolation" in r.getMessage() for r in warnings)
    result = await sb.run(RunSpec(run_id="w", argv=("/bin/sh", "-c", "id -u; pwd; env"),
                                  secrets={"TOKEN": "t0k"}))  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0] == str(SANDBOX_UID)
    assert lines[1].startswith(tempfile.gettempdir())
    assert not Path(lines[1]).exists()
    assert {line.split("=", 1)[0] for line in lines[2:]} <= {"PATH", "LANG", "HOME", "PWD", "TOKEN"}
    limited = await sb.run(RunSpec(run_id="w2", python="while True:\n    pass\n",
                                   limits=Limits(wall_seconds=1.0)))  # fmt: skip
    assert limited.timed_out


async def test_weak_mode_is_logged_even_when_strong_isolation_works(
    caplog: pytest.LogCaptureFixture, config: SandboxConfig
) -> None:
    """Allowing weak isolation is warned about at every self-test, even when bwrap works."""
    cfg = SandboxConfig(allow_weak_isolation=True, default_limits=config.default_limits)
    with caplog.at_level(logging.WARNING, logger="sandbox"):
        report = await Sandbox(cfg).selftest()
    assert report.ok
    assert not report.weak
    assert any("allow_weak_isolation" in r.getMessage() for r in caplog.records)


def _good_facts() -> dict[str, object]:
    """Facts a correct sandbox reports (matching FAST limits)."""
    return {
        "seccomp": "2", "nnp": "1", "capeff": "0" * 16, "uid": 65534, "ifaces": ["lo"],
        "inet": "blocked:97", "pids": 2, "env_keys": ["HOME", "LANG", "PATH", "PWD"],
        "env_canary_seen": [], "file_canary_seen": [], "cwd": "/workspace",
        "writes": {"/workspace/probe-write": "ok", "/tmp/probe-write": "ok",
                   "/usr/probe-write": "refused:30", "/probe-write": "refused:30"},
        "unshare_user": -1, "ptrace": -1,
        "rlimits": {str(k): list(v) for k, v in FAST.rlimits().items()},
    }  # fmt: skip


BAD_FACTS = [
    ("seccomp", {"seccomp": "0"}),
    ("no_new_privs", {"nnp": "0"}),
    ("capabilities", {"capeff": "000001ffffffffff"}),
    ("network", {"ifaces": ["eth0", "lo"]}),
    ("inet_socket", {"inet": "allowed"}),
    ("pid_namespace", {"pids": 180}),
    ("nested_userns", {"unshare_user": 0}),
    ("ptrace", {"ptrace": 0}),
    ("read_only_root", {"writes": {"/workspace/probe-write": "ok", "/usr/probe-write": "ok"}}),
    ("clean_env", {"env_keys": ["HOME", "LANG", "PATH", "BOT_TOKEN"]}),
    ("env_canary", {"env_canary_seen": ["1"]}),
    ("file_canary", {"file_canary_seen": ["/srv/data/.canary"]}),
    (
        "workspace_writable",
        {"writes": {"/workspace/probe-write": "refused:30", "/x": "refused:30"}},
    ),
    ("rlimits", {"rlimits": {}}),
    ("unprivileged", {"uid": 0}),
]


def test_good_facts_pass_every_check() -> None:
    """The reference facts pass every check."""
    checks = evaluate(_good_facts(), limits=FAST, weak=False, root_bot=True)
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]


@pytest.mark.parametrize(("check", "bad"), BAD_FACTS, ids=[name for name, _ in BAD_FACTS])
def test_each_broken_property_fails_its_check(check: str, bad: dict[str, object]) -> None:
    """Breaking one property fails exactly the check named for it."""
    checks = evaluate({**_good_facts(), **bad}, limits=FAST, weak=False, root_bot=True)
    assert [c.name for c in checks if not c.passed] == [check]


async def test_protected_file_gets_a_canary_next_to_it(tmp_path: Path) -> None:
    """A protected path that is a file (e.g. config.yaml) gets its canary in the same directory."""
    config_file = tmp_path / "config.yaml"
    config_file.write_text("token: x\n")
    sb = Sandbox(SandboxConfig(default_limits=FAST, protected_paths=(str(config_file),)))
    report = await sb.selftest()
    assert report.ok, report.reason
    [canary] = [c for c in report.checks if c.name == "file_canary"]
    assert canary.passed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
