"""If the bot itself dies (SIGKILL), --die-with-parent takes every sandboxed process with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sandbox

from .conftest import SANDBOX_UID, _descends_from, processes_of_uid

REPO = Path(sandbox.__file__).resolve().parent.parent

BOT = """
import asyncio, os, sys
from sandbox import Limits, RunSpec, Sandbox, SandboxConfig

def descendants():
    parents = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{name}/stat").read().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(name)] = int(stat[1])
    found = set()
    for pid in parents:
        p = pid
        while p in parents and p > 1:
            p = parents[p]
            if p == os.getpid():
                found.add(pid)
                break
    return found

async def main():
    sb = Sandbox(SandboxConfig())
    assert (await sb.selftest()).ok
    code = "import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(100)\\ntime.sleep(100)"
    task = asyncio.create_task(sb.run(RunSpec(run_id="victim", python=code,
                                              limits=Limits(wall_seconds=60))))
    while len(descendants()) < 4:  # outer bwrap, namespace init, the snippet, its daemon
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    await task

asyncio.run(main())
"""


def test_killing_the_bot_kills_its_runs() -> None:
    """SIGKILL of the bot process leaves no sandboxed process behind."""
    bot = subprocess.Popen([sys.executable, "-c", BOT], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert bot.stdout is not None
        assert bot.stdout.readline().strip() == "ready"
        victims = [p for p in processes_of_uid(SANDBOX_UID, ours_only=False)
                   if _descends_from(p, bot.pid)]  # fmt: skip
        assert len(victims) >= 3  # outer bwrap, namespace init, the snippet and its daemon
    finally:
        os.kill(bot.pid, signal.SIGKILL)
        bot.wait()
        if bot.stdout is not None:
            bot.stdout.close()
    deadline = time.monotonic() + 10
    alive = victims
    while alive and time.monotonic() < deadline:
        alive = [p for p in victims if Path(f"/proc/{p}").exists() and _alive(p)]
        time.sleep(0.02)
    assert alive == []


def _alive(pid: int) -> bool:
    """True unless the process is a zombie or gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
