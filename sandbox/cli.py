"""Plain functions behind ``frontdoor sandbox run`` and ``frontdoor sandbox selftest``.

No argparse here: the bot's CLI parses arguments and builds the ``Sandbox`` from config, then
calls these. Exit codes of ``run_command``: the command's own status; 124 when the wall-time
limit killed it; 137 when another limit (output, memory, inodes) or a kill ended it;
``EXIT_UNAVAILABLE`` (2) when the sandbox refuses to run (the reason is printed);
``EXIT_USAGE`` (64) for an empty or malformed command.
"""

from __future__ import annotations

import json
import secrets
from typing import TextIO

from sandbox.errors import InvalidRunSpec, SandboxUnavailable
from sandbox.limits import MIB
from sandbox.models import RunResult, RunSpec
from sandbox.runner import Sandbox

EXIT_UNAVAILABLE = 2
EXIT_TIMEOUT = 124
EXIT_KILLED = 137
EXIT_USAGE = 64


def _exit_code(result: RunResult) -> int:
    """Map a result to the CLI's exit status."""
    if result.killed_reason == "timeout":
        return EXIT_TIMEOUT
    if result.killed_reason is not None:
        return EXIT_KILLED
    return result.exit_code


async def run_command(
    sb: Sandbox,
    argv: list[str],
    *,
    timeout: float | None,  # noqa: ASYNC109 - the wall-time limit of the run, fixed API
    memory_mb: int | None,
    as_json: bool,
    out: TextIO,
) -> int:
    """Run ``argv`` in the sandbox exactly as the bot would, print the outcome, return a status."""
    try:
        limits = sb.config.default_limits.with_overrides(
            wall_seconds=timeout,
            address_space_bytes=None if memory_mb is None else memory_mb * MIB,
        )
        spec = RunSpec(
            run_id=f"cli-{secrets.token_hex(6)}",
            argv=tuple(argv),
            limits=limits,
            requested_by="cli:local",
            tool="sandbox run",
        )
    except InvalidRunSpec as exc:
        out.write(f"sandbox: invalid command: {exc}\n")
        return EXIT_USAGE
    try:
        result = await sb.run(spec)
    except SandboxUnavailable as exc:
        if as_json:
            out.write(json.dumps({"error": "unavailable", "reason": exc.reason}) + "\n")
        else:
            out.write(f"sandbox: {exc}\n")
        return EXIT_UNAVAILABLE
    if as_json:
        doc = {
            "exit_code": result.exit_code,
            "timed_out": result.timed_out,
            "killed_reason": result.killed_reason,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "truncated": result.truncated,
            "duration_ms": round(result.duration_ms, 3),
        }
        out.write(json.dumps(doc) + "\n")
    else:
        out.write(result.stdout)
        if result.stderr:
            out.write(result.stderr)
        if result.killed_reason is not None or result.truncated:
            note = result.killed_reason or "output truncated"
            out.write(f"\nsandbox: run ended: {note}{' (truncated)' if result.truncated else ''}\n")
    return _exit_code(result)


async def selftest_command(sb: Sandbox, out: TextIO) -> int:
    """Run the self-test, print one line per check, return 0 only when every check passed."""
    report = await sb.selftest()
    for check in report.checks:
        mark = "ok  " if check.passed else "FAIL"
        out.write(f"{mark} {check.name}: {check.detail}\n")
    mode = "weak isolation" if report.weak else "full isolation"
    if report.ok:
        out.write(f"sandbox self-test passed ({mode}, {report.duration_ms:.0f} ms)\n")
        return 0
    out.write(f"sandbox self-test FAILED: {report.reason}\n")
    return 1
