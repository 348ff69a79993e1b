"""The unprivileged path: a throwaway user runs a bot that uses the Sandbox, without root."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyseccomp
import pytest

import sandbox

from .conftest import processes_of_uid

PACKAGE = Path(sandbox.__file__).resolve().parent
BOT = Path(__file__).with_name("unprivileged_bot.py")


@pytest.fixture
def world_readable_copy() -> Iterator[Path]:
    """The sandbox package, pyseccomp and the bot script copied where any user can read them."""
    root = Path(tempfile.mkdtemp(prefix="fdsbx-code-"))
    root.chmod(0o755)
    shutil.copytree(PACKAGE, root / "sandbox", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(pyseccomp.__file__, root / "pyseccomp.py")
    shutil.copy(BOT, root / "unprivileged_bot.py")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield root
    shutil.rmtree(root)


@pytest.fixture(scope="session")
def throwaway_user() -> Iterator[tuple[str, int]]:
    """Create a system user for the session (useradd) and remove it afterwards."""
    name = f"fdsbx{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True)  # fmt: skip
    uid = int(subprocess.run(["id", "-u", name], check=True, capture_output=True, text=True).stdout)
    try:
        yield name, uid
    finally:
        subprocess.run(["userdel", name], check=False)


def test_unprivileged_bot_is_contained(
    throwaway_user: tuple[str, int], world_readable_copy: Path
) -> None:
    """As a non-root user the self-test passes, NPROC holds per run, nothing leaks or is left."""
    name, uid = throwaway_user
    data_dir = Path(tempfile.mkdtemp(prefix="fdsbx-data-"))
    shutil.chown(data_dir, user=name)
    data_dir.chmod(0o700)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": str(world_readable_copy)}
    runuser = shutil.which("runuser", path="/usr/sbin:/usr/bin:/sbin:/bin") or "runuser"
    try:
        proc = subprocess.run(
            [runuser, "-u", name, "--", "/usr/bin/python3", "unprivileged_bot.py",
             str(data_dir)],
            cwd=world_readable_copy, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(data_dir)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts["ok"], facts["reason"]
    assert facts["euid"] == uid
    assert facts["uid_inside"] == str(uid)
    assert 0 < facts["forks"] < 16
    assert facts["leaked"] is False
    assert facts["daemon_exit"] == 0
    assert facts["loop_timed_out"] is True
    assert processes_of_uid(uid, ours_only=False) == []
    assert os.geteuid() == 0
