"""Fixtures for sandbox tests: a self-tested Sandbox with a planted data dir, and process scans."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox import Limits, Sandbox, SandboxConfig

SANDBOX_UID = 65534
FAST = Limits(wall_seconds=3.0, cpu_seconds=2, output_bytes=64 * 1024)


def processes_of_uid(uid: int) -> list[int]:
    """Pids of live (non-zombie) processes whose real uid is ``uid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith(("Z", "X")):
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
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
