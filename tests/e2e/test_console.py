"""The README's promise, end to end: `frontdoor run` on the example config, driven as a scripted console chat."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Console:
    """A `frontdoor run` process, written to line by line and read until an expected line appears."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, config: Path) -> Console:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
        env["DEMO_API_KEY"] = "demo-secret-value-4be1c3"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=config.parent,
            env=env,
        )
        return cls(proc)

    async def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        await self.proc.stdin.drain()

    async def expect(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """Read output until a line matches `pattern` (a regex); fail after `timeout` seconds."""
        assert self.proc.stdout is not None
        regex = re.compile(pattern)
        while True:
            try:
                raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout} s; last: {self.lines[-8:]}"
                ) from None
            if not raw:
                raise AssertionError(f"output ended before {pattern!r}; got {self.lines[-5:]}")
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            m = regex.search(line)
            if m:
                return m

    async def finish(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        rest = await asyncio.wait_for(self.proc.stdout.read(), 30)
        self.lines.extend(rest.decode().splitlines())
        return await asyncio.wait_for(self.proc.wait(), 30)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    shutil.copy(ROOT / "config.example.yaml", path)
    return path


async def test_scripted_console_session(config: Path) -> None:
    """Pairing, a low-risk run, an approval card, a refused press, one run, a repeat press, a burst, a clean exit."""
    c = await Console.start(config)
    await c.say("bob: hello")
    code = (await c.expect(r"^-> bob: .*pairing code is (\S+) ")).group(1)
    await c.say(f"admin: /pair approve {code}")
    await c.expect(r"^-> bob: You are paired")
    await c.say("bob: /run hello who=bob")
    await c.expect(r"^-> bob: hello, bob!$")
    await c.say("bob: /run restart_service service=api")
    approve, _deny = (await c.expect(r"^-> carol: \[Approve (\S+)\] \[Deny (\S+)\]$")).groups()
    await c.say(f"bob: /press {approve}")
    await c.expect(r"^-> bob: You are not an approver")
    await c.say(f"carol: /press {approve}")
    await c.expect(r"^-> bob: restarting api \.\.\. done$")
    await c.say(f"carol: /press {approve}")
    await c.expect(r"^-> carol: Request \S+ was already decided")
    for _ in range(50):
        await c.say("bob: /whoami")
    await c.say("admin: /whoami")
    await c.expect(r"^-> admin: You are admin")
    assert await c.finish() == 0
    assert sum(1 for line in c.lines if line.startswith("-> bob: Slow down")) == 1
    assert sum(1 for line in c.lines if "restarting api ... done" in line) == 1
    verify = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "audit",
        "verify",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        cwd=config.parent,
    )
    out, _ = await verify.communicate()
    assert verify.returncode == 0, out
    assert b"chain intact" in out


async def test_end_of_input_finishes_work_in_flight(config: Path) -> None:
    """Lines already read are answered before the process exits 0 at end of input."""
    c = await Console.start(config)
    for name in ("u1", "u2", "u3"):
        await c.say(f"{name}: hi")
    await c.say("admin: /pair list")
    assert await c.finish() == 0
    assert sum(1 for line in c.lines if "pairing code is" in line) == 3
    assert any(line.startswith("-> admin: #3 u3") for line in c.lines)
