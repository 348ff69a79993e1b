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


ADD_MEMBER = {
    "name": "add_member",
    "description": "Add a member (demo)",
    "kind": "python",
    "code": "import sys\nprint('added', sys.argv[1])\n",
    "argv": ["{email}", "{note}"],
    "args": {"email": {"type": "str"}, "note": {"type": "str", "default": "none"}},
    "risk": "high",
    "timeout": "10s",
}


async def test_console_attacks_on_approvals_and_identities(config: Path) -> None:
    """Issue 11 through the console: exact cards, withdrawal on revoke, linked revoke, one-admin critical."""
    import yaml

    data = yaml.safe_load(config.read_text())
    data["tools"].append(ADD_MEMBER)
    data["permissions"]["global"]["tools"].append("add_member")
    config.write_text(yaml.safe_dump(data))
    c = await Console.start(config)
    for user in ("bob", "bob2"):
        await c.say(f"{user}: hello")
        code = (await c.expect(rf"^-> {user}: .*pairing code is (\S+) ")).group(1)
        await c.say(f"admin: /pair approve {code}")
        await c.expect(rf"^-> {user}: You are paired")
    # the card shows exactly what is approved: no PII redaction on it
    await c.say('bob: /run add_member email=mallory@evil.example note="+1 415 555 0100"')
    await c.expect(r'^-> carol:\s+email = "mallory@evil\.example"$')
    await c.expect(r'^-> carol:\s+note = "\+1 415 555 0100"$')
    approve, _deny = (await c.expect(r"^-> carol: \[Approve (\S+)\] \[Deny (\S+)\]$")).groups()
    # a configured secret value as an argument is refused, never parked
    await c.say("bob: /run add_member email=x note=demo-secret-value-4be1c3")
    await c.expect(
        r"^-> bob: add_member was not run: an argument holds the value of a configured secret"
    )
    # a revoke between park and press withdraws it at once; the later tap runs nothing
    await c.say("admin: /revoke console:local:bob add_member")
    await c.expect(r"^-> carol: \(card \S+ updated\)")
    await c.expect(r"^-> carol:\s+Not run: the requester may not use add_member")
    await c.expect(
        r"^-> bob: Your request \S+ \(add_member\) was withdrawn and will not run: .*may not use"
    )
    await c.say(f"carol: /press {approve}")
    await c.expect(r"^-> carol: Request \S+ was already decided \(cancelled")
    # a revoke on a linked identity binds the whole person
    await c.say("bob: /link console:local:bob2")
    link = (await c.expect(r"^-> bob: .*/link confirm (\S+) from")).group(1)
    await c.say(f"bob2: /link confirm {link}")
    await c.expect(r"^-> bob2: Linked with console:local:bob")
    await c.say("admin: /revoke console:local:bob2 hello")
    await c.expect(r"^-> admin: Revoked hello")
    await c.say("bob: /run hello who=bob")
    await c.expect(r"^-> bob: You may not use hello here")
    # the only admin asking for a critical tool: the real reason
    await c.say("admin: /run drop_cache")
    await c.expect(
        r"^-> admin: drop_cache needs approval, but it is critical: only another admin may approve it"
    )
    assert await c.finish() == 0
    assert not any("added mallory" in line for line in c.lines)
    assert not any("[REDACTED" in line for line in c.lines if line.startswith("-> carol:"))
    assert not any("demo-secret-value-4be1c3" in line for line in c.lines)
    explain = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "policy",
        "explain",
        "--config",
        str(config),
        "--user",
        "console:local:bob",
        "--tool",
        "hello",
        stdout=asyncio.subprocess.PIPE,
        cwd=config.parent,
        env={**os.environ, "DEMO_API_KEY": "demo-secret-value-4be1c3"},
    )
    out, _ = await explain.communicate()
    assert explain.returncode == 1, out
    assert b"(linked console:local:bob2)" in out
