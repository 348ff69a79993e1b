"""The Sandbox port end to end: results, env, secrets, stdin, registry, kill, cancellation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox import InvalidRunSpec, Limits, RunSpec, Sandbox, SandboxConfig

from .conftest import FAST, SANDBOX_UID, processes_of_uid


async def test_runs_a_command_and_returns_its_output(sb: Sandbox) -> None:
    """stdout, stderr and the exit status of a command come back as they were produced."""
    spec = RunSpec(run_id="r1", argv=("/bin/sh", "-c", "echo out; echo err >&2; exit 3"))
    result = await sb.run(spec)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert result.killed_reason is None
    assert not result.timed_out
    assert not result.truncated
    assert result.duration_ms > 0


async def test_runs_as_dedicated_uid_in_workspace(sb: Sandbox) -> None:
    """As root, a run executes as the sandbox uid, in /workspace, with its own hostname."""
    result = await sb.run(RunSpec(run_id="id", argv=("/bin/sh", "-c", "id -u; pwd; hostname")))
    assert result.stdout.split() == [str(SANDBOX_UID), "/workspace", "sandbox"]


async def test_environment_is_the_allowlist_plus_the_runs_secrets(sb: Sandbox) -> None:
    """A run sees PATH, LANG, HOME and its own secrets only; values are exposed for redaction."""
    spec = RunSpec(run_id="env", argv=("env",), secrets={"API_KEY": "s3cr3t-value"})
    result = await sb.run(spec)
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert env == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/workspace",
                   "PWD": "/workspace", "API_KEY": "s3cr3t-value"}  # fmt: skip
    assert result.secret_values == ("s3cr3t-value",)


async def test_secrets_of_one_run_do_not_reach_the_next(sb: Sandbox) -> None:
    """A secret given to one run is absent from a later run without it."""
    await sb.run(RunSpec(run_id="a", argv=("true",), secrets={"TOKEN": "only-for-a"}))
    result = await sb.run(RunSpec(run_id="b", argv=("env",)))
    assert "only-for-a" not in result.stdout
    assert result.secret_values == ()


async def test_stdin_is_delivered(sb: Sandbox) -> None:
    """Bytes given as stdin reach the command."""
    result = await sb.run(RunSpec(run_id="cat", argv=("cat",), stdin=b"hello\nworld\n"))
    assert result.stdout == "hello\nworld\n"


async def test_large_stdin_to_a_command_that_ignores_it(sb: Sandbox) -> None:
    """A command that never reads a large stdin still finishes normally."""
    result = await sb.run(RunSpec(run_id="ign", argv=("true",), stdin=b"x" * (1 << 20)))
    assert result.exit_code == 0


async def test_python_snippet_gets_its_args(sb: Sandbox) -> None:
    """A snippet runs under python3 -I with its args as sys.argv[1:]."""
    code = "import sys\nprint(sys.argv[1:], sys.flags.isolated)"
    result = await sb.run(RunSpec(run_id="py", python=code, args=("a b", "--x")))
    assert result.stdout == "['a b', '--x'] 1\n"


async def test_cpu_seconds_are_measured(sb: Sandbox) -> None:
    """CPU time of the run (all its processes) is reported."""
    code = (
        "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass"
    )
    result = await sb.run(RunSpec(run_id="cpu", python=code))
    assert result.cpu_seconds >= 0.3


async def test_non_utf8_output_is_replaced_not_fatal(sb: Sandbox) -> None:
    """Bytes that are not UTF-8 are decoded with replacement characters."""
    result = await sb.run(RunSpec(run_id="bin", argv=("printf", r"\377ok")))
    assert result.stdout == "\ufffdok"


async def test_missing_command_is_a_failed_result(sb: Sandbox) -> None:
    """A command that does not exist gives a non-zero result, not an exception."""
    result = await sb.run(RunSpec(run_id="nope", argv=("no-such-command-xyz",)))
    assert result.exit_code != 0
    assert result.killed_reason is None


async def test_live_runs_list_and_kill_by_id(sb: Sandbox) -> None:
    """A live run is listed with who asked and which tool, and kill by id ends it."""
    spec = RunSpec(run_id="long", argv=("sleep", "30"), requested_by="console:local:alice",
                   tool="sleeper", limits=Limits(wall_seconds=20))  # fmt: skip
    task = asyncio.create_task(sb.run(spec))
    while not sb.live_runs() or sb.live_runs()[0].pid == 0:
        await asyncio.sleep(0.01)
    [live] = sb.live_runs()
    assert (live.run_id, live.requested_by, live.tool) == ("long", "console:local:alice", "sleeper")
    assert live.started_at.tzinfo is not None
    assert live.started_at <= datetime.now(UTC)
    assert await sb.kill("long")
    result = await task
    assert result.killed_reason == "killed"
    assert result.exit_code == 137
    assert not await sb.kill("long")
    assert sb.live_runs() == []


async def test_cancelling_the_caller_kills_the_run(sb: Sandbox) -> None:
    """Cancelling the awaiting task kills the run and still raises CancelledError."""
    code = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\ntime.sleep(60)"
    )
    task = asyncio.create_task(
        sb.run(RunSpec(run_id="c", python=code, limits=Limits(wall_seconds=30)))
    )
    while not processes_of_uid(SANDBOX_UID) and not task.done():
        await asyncio.sleep(0.01)
    assert not task.done(), task.result()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sb.live_runs() == []
    assert processes_of_uid(SANDBOX_UID) == []


@pytest.mark.parametrize("yields", [1, 2, 3, 5, 8, 13], ids=lambda n: f"after-{n}-yields")
async def test_cancelling_while_spawning_leaves_nothing(sb: Sandbox, yields: int) -> None:
    """A cancellation that lands while the child is being spawned still kills and reaps it."""
    code = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\ntime.sleep(60)"
    )
    task = asyncio.create_task(
        sb.run(RunSpec(run_id=f"s{yields}", python=code, limits=Limits(wall_seconds=30)))
    )
    for _ in range(yields):
        await asyncio.sleep(0)  # let the run get that far into spawning; no timing involved
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sb.live_runs() == []
    assert processes_of_uid(SANDBOX_UID) == []


async def test_duplicate_live_run_id_is_refused(sb: Sandbox) -> None:
    """Two live runs cannot share an id."""
    spec = RunSpec(run_id="dup", argv=("sleep", "30"), limits=Limits(wall_seconds=20))
    task = asyncio.create_task(sb.run(spec))
    while not sb.live_runs():
        await asyncio.sleep(0.01)
    with pytest.raises(InvalidRunSpec):
        await sb.run(spec)
    assert await sb.kill("dup")
    await task


async def test_semaphore_caps_live_runs(sb_two_slots: Sandbox) -> None:
    """With two slots, three runs never have more than two live at the same time."""
    sb = sb_two_slots
    specs = [RunSpec(run_id=f"s{i}", argv=("sleep", "30"), limits=Limits(wall_seconds=20))
             for i in range(3)]  # fmt: skip
    tasks = [asyncio.create_task(sb.run(s)) for s in specs]
    while len(sb.live_runs()) < 2:
        await asyncio.sleep(0.01)
    live = {r.run_id for r in sb.live_runs()}
    assert len(live) == 2
    for run_id in live:
        await sb.kill(run_id)
    while len(sb.live_runs()) != 1 or sb.live_runs()[0].run_id in live:
        await asyncio.sleep(0.01)
    await sb.kill(sb.live_runs()[0].run_id)
    results = await asyncio.gather(*tasks)
    assert [r.killed_reason for r in results] == ["killed"] * 3


async def test_run_limits_default_from_config(sb: Sandbox) -> None:
    """A spec without limits gets the configured defaults (visible as rlimits inside)."""
    code = "import resource as r\nprint(r.getrlimit(r.RLIMIT_NPROC)[0], r.getrlimit(7)[0])"
    result = await sb.run(RunSpec(run_id="lim", python=code))
    assert result.stdout.split() == [str(FAST.max_processes), str(FAST.open_files)]


@pytest.mark.parametrize("uid_switch", ["spawn", "setpriv"])
async def test_uid_switch_modes_give_the_same_identity(data_dir: Path, uid_switch: str) -> None:
    """Both ways of dropping root pass the self-test and run as the sandbox uid with no extra groups."""
    sb = Sandbox(SandboxConfig(default_limits=FAST, protected_paths=(str(data_dir),),
                               uid_switch=uid_switch))  # fmt: skip
    report = await sb.selftest()
    assert report.ok, report.reason
    result = await sb.run(RunSpec(run_id="ids", argv=("/bin/sh", "-c", "id -u; id -g; id -G")))
    assert result.stdout.split() == [str(SANDBOX_UID)] * 3
    assert processes_of_uid(SANDBOX_UID) == []
