"""Fixtures for sandbox tests: a self-tested Sandbox with a planted data dir, and process scans."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox import Limits, Sandbox, SandboxConfig

SANDBOX_UID = 65534
FAST = Limits(wall_seconds=3.0, cpu_seconds=2, output_bytes=64 * 1024)


def _status(pid: int) -> dict[str, str]:
    """Fields of /proc/<pid>/status (empty when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {
        k: v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)
    }


def _descends_from(pid: int, ancestor: int) -> bool:
    """True when ``ancestor`` is on the parent chain of ``pid``."""
    seen = 0
    while pid > 1 and seen < 256:
        if pid == ancestor:
            return True
        pid = int(_status(pid).get("PPid", "0"))
        seen += 1
    return False


def processes_of_uid(uid: int, *, ours_only: bool = True) -> list[int]:
    """Pids of live (non-zombie) processes whose real uid is ``uid``.

    With ``ours_only`` only descendants of this test process count (the sandbox makes the bot a
    child subreaper, so a run's orphans and daemons stay below it), which keeps the scan exact
    even when other test suites use the sandbox uid at the same time.
    """
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _status(int(name))
        if not fields or fields.get("State", "").startswith(("Z", "X")):
            continue
        if int(fields.get("Uid", "-1").split()[0]) != uid:
            continue
        if not ours_only or _descends_from(int(name), me):
            found.append(int(name))
    return found


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A bot data dir with a secret file, as the bot would have (0600, owned by the bot)."""
    path = tmp_path / "botdata"
    path.mkdir()
    secret = path / "secret.db"
    secret.write_text("CANARY-DATA-FILE")
    secret.chmod(0o600)
    return path


@pytest.fixture
def config(data_dir: Path) -> SandboxConfig:
    """The production configuration with short limits, protecting ``data_dir``."""
    return SandboxConfig(default_limits=FAST, protected_paths=(str(data_dir),))


@pytest.fixture
async def sb(config: SandboxConfig) -> AsyncIterator[Sandbox]:
    """A Sandbox whose self-test passed; asserts nothing of the sandbox uid survives the test."""
    sandbox = Sandbox(config)
    report = await sandbox.selftest()
    assert report.ok, report.reason
    yield sandbox
    assert sandbox.live_runs() == []
    assert processes_of_uid(SANDBOX_UID) == []


@pytest.fixture
async def sb_two_slots(data_dir: Path) -> AsyncIterator[Sandbox]:
    """A self-tested Sandbox that allows two concurrent runs."""
    sandbox = Sandbox(SandboxConfig(default_limits=FAST, max_concurrent=2,
                                    protected_paths=(str(data_dir),)))  # fmt: skip
    assert (await sandbox.selftest()).ok
    yield sandbox
    assert processes_of_uid(SANDBOX_UID) == []
