"""The CLI helpers: exit codes, JSON output, refusal when unavailable, self-test listing."""

from __future__ import annotations

import io
import json

from sandbox import Sandbox, SandboxConfig
from sandbox.cli import EXIT_KILLED, EXIT_TIMEOUT, EXIT_UNAVAILABLE, run_command, selftest_command

from .conftest import FAST


async def _cli(sb: Sandbox, argv: list[str], **kw: object) -> tuple[int, str]:
    """Run run_command with defaults and capture what it printed."""
    out = io.StringIO()
    opts: dict[str, object] = {"timeout": None, "memory_mb": None, "as_json": False}
    opts.update(kw)
    code = await run_command(sb, argv, out=out, **opts)  # type: ignore[arg-type]
    return code, out.getvalue()


async def test_exit_status_and_output_pass_through(sb: Sandbox) -> None:
    """The command's status and output are the CLI's."""
    code, text = await _cli(sb, ["/bin/sh", "-c", "echo hi; exit 5"])
    assert (code, text) == (5, "hi\n")


async def test_json_output_has_the_documented_keys(sb: Sandbox) -> None:
    """--json prints one object with exactly the documented keys."""
    code, text = await _cli(sb, ["echo", "x"], as_json=True)
    doc = json.loads(text)
    assert code == 0
    assert set(doc) == {"exit_code", "timed_out", "killed_reason", "stdout", "stderr",
                        "truncated", "duration_ms"}  # fmt: skip
    assert doc["stdout"] == "x\n"


async def test_timeout_gives_124(sb: Sandbox) -> None:
    """A run killed at the wall limit exits 124."""
    code, text = await _cli(sb, ["sleep", "10"], timeout=0.5)
    assert code == EXIT_TIMEOUT
    assert "timeout" in text


async def test_memory_limit_applies(sb: Sandbox) -> None:
    """--memory-mb sets the address-space limit of the run."""
    code, text = await _cli(sb, ["python3", "-c", "x = bytearray(200 << 20)"], memory_mb=64)
    assert code == 1
    assert "MemoryError" in text


async def test_output_limit_kill_gives_137(sb: Sandbox) -> None:
    """A run killed for a limit other than time exits 137."""
    code, text = await _cli(sb, ["yes"])
    assert code == EXIT_KILLED
    assert "output_limit" in text


async def test_unavailable_sandbox_prints_reason_and_returns_2() -> None:
    """When the sandbox is unavailable the reason is printed and the status is 2."""
    sb = Sandbox(SandboxConfig(bwrap_path="/nonexistent/bwrap", default_limits=FAST))
    code, text = await _cli(sb, ["true"])
    assert code == EXIT_UNAVAILABLE
    assert "isolation unavailable" in text
    assert "/nonexistent/bwrap" in text
    code, text = await _cli(sb, ["true"], as_json=True)
    assert code == EXIT_UNAVAILABLE
    assert json.loads(text)["error"] == "unavailable"


async def test_selftest_command_lists_checks(config: SandboxConfig) -> None:
    """The self-test command prints every check and returns 0 when all pass."""
    out = io.StringIO()
    assert await selftest_command(Sandbox(config), out) == 0
    lines = out.getvalue().splitlines()
    assert any(line.startswith("ok   seccomp:") for line in lines)
    assert lines[-1].startswith("sandbox self-test passed (full isolation")


async def test_selftest_command_fails_when_bwrap_missing() -> None:
    """The self-test command returns non-zero and names the failing check."""
    out = io.StringIO()
    assert await selftest_command(Sandbox(SandboxConfig(bwrap_path="/nonexistent/bwrap")), out) == 1
    assert "FAIL bwrap" in out.getvalue()
