"""Hostile snippets against the real sandbox: each must be contained and leave nothing running.

The ``sb`` fixture asserts after every test that no process of the sandbox uid is left on the
host (which covers every process of every run's pid namespace, daemons included).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from sandbox import Limits, RunResult, RunSpec, Sandbox

from .conftest import FAST


async def _run(
    sb: Sandbox, code: str, *, limits: Limits = FAST, args: tuple[str, ...] = ()
) -> RunResult:
    """Run a snippet with a fresh run id."""
    spec = RunSpec(run_id=f"h-{secrets.token_hex(4)}", python=code, args=args, limits=limits)
    return await sb.run(spec)


def _facts(result: RunResult) -> dict[str, Any]:
    """The JSON line a probe snippet printed last."""
    facts: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return facts


async def test_bot_environment_is_invisible(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A canary in the bot's env is neither in the run's env nor in any /proc/*/environ."""
    canary = f"CANARY-ENV-{secrets.token_hex(8)}"
    monkeypatch.setenv("BOT_TOKEN", canary)
    code = """
import json, os
seen = [k for k, v in os.environ.items() if "CANARY" in v]
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            seen.append(open("/proc/%s/environ" % p, "rb").read().decode(errors="replace"))
        except OSError:
            pass
print(json.dumps({"keys": sorted(os.environ), "environs": seen}))
"""
    result = await _run(sb, code)
    assert result.exit_code == 0, result.stderr
    assert canary not in result.stdout
    assert set(_facts(result)["keys"]) <= {"PATH", "HOME", "LANG", "PWD"}


async def test_bot_data_and_config_files_are_invisible(sb: Sandbox, data_dir: Path) -> None:
    """The bot's data dir, home, venv and the host root are not reachable, directly or via /proc."""
    secret = data_dir / "secret.db"
    paths = [str(secret), f"/proc/1/root{secret}", "/root/.bashrc", "/work/main/pyproject.toml",
             "/etc/shadow", "/etc/hostname", "/proc/1/root/etc/shadow"]  # fmt: skip
    code = """
import json, sys
out = {}
for path in sys.argv[1:]:
    try:
        out[path] = open(path, "rb").read().decode(errors="replace")[:200]
    except OSError as e:
        out[path] = "error:%d" % e.errno
print(json.dumps(out))
"""
    result = await _run(sb, code, args=tuple(paths))
    facts = _facts(result)
    assert "CANARY-DATA-FILE" not in result.stdout
    assert all(str(v).startswith("error:") for v in facts.values()), facts


async def test_network_is_unreachable(sb: Sandbox, data_dir: Path) -> None:
    """TCP to a listener on the host's 127.0.0.1, to another host and to a unix socket all fail."""
    accepted: list[object] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer.get_extra_info("peername"))
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    unix_server = await asyncio.start_unix_server(on_connect, str(data_dir / "bot.sock"))
    port = server.sockets[0].getsockname()[1]
    code = """
import json, socket, sys
out = {}
for family, addr in ((socket.AF_INET, ("127.0.0.1", int(sys.argv[1]))),
                     (socket.AF_INET, ("192.0.2.1", 80)),
                     (socket.AF_INET6, ("::1", int(sys.argv[1]))),
                     (socket.AF_UNIX, sys.argv[2])):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(addr)
        out[str(addr)] = "connected"
    except OSError as e:
        out[str(addr)] = "error:%s" % e.errno
print(json.dumps(out))
"""
    try:
        result = await _run(sb, code, args=(str(port), str(data_dir / "bot.sock")))
    finally:
        server.close()
        unix_server.close()
        await server.wait_closed()
        await unix_server.wait_closed()
    facts = _facts(result)
    assert accepted == []
    assert "connected" not in facts.values(), facts
    assert len(facts) == 4


async def test_writes_outside_workspace_are_refused(sb: Sandbox, data_dir: Path) -> None:
    """Writes to /usr, /etc, /, /dev, /proc/sys and the data dir fail; /workspace and /tmp work."""
    code = """
import json, sys
out = {}
for path in sys.argv[1:]:
    try:
        with open(path, "w") as fh:
            fh.write("x")
        out[path] = "ok"
    except OSError as e:
        out[path] = "error:%d" % e.errno
print(json.dumps(out))
"""
    outside = ["/usr/x", "/etc/x", "/x", "/dev/x", "/proc/sys/kernel/hostname", f"{data_dir}/x",
               "/sandbox/snippet.py"]  # fmt: skip
    result = await _run(sb, code, args=(*outside, "/workspace/x", "/tmp/x", "/dev/shm/x"))
    facts = _facts(result)
    assert all(facts[p] != "ok" for p in outside), facts
    assert facts["/workspace/x"] == facts["/tmp/x"] == facts["/dev/shm/x"] == "ok"
    assert not (data_dir / "x").exists()


async def test_shell_fork_bomb_is_bounded(sb: Sandbox) -> None:
    """A shell fork bomb hits the per-run process limit and is killed, whole, at the wall limit.

    The main shell stays alive (`sleep`), so the bomb runs until the wall kill instead of
    being torn down early when the shell happens to exit first.
    """
    spec = RunSpec(run_id="forkbomb", argv=("/bin/sh", "-c", "b(){ b|b& }; b; sleep 30"),
                   limits=Limits(wall_seconds=1.5, cpu_seconds=2))  # fmt: skip
    result = await sb.run(spec)
    assert result.timed_out
    assert result.killed_reason == "timeout"


async def test_python_fork_bomb_is_killed_at_wall_limit(sb: Sandbox) -> None:
    """A fork bomb that keeps retrying is held at the process limit and killed at the wall limit."""
    code = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = await _run(sb, code, limits=Limits(wall_seconds=1.5, cpu_seconds=2))
    assert result.timed_out
    assert result.killed_reason == "timeout"
    assert result.exit_code == 137


async def test_fork_count_stops_at_nproc(sb: Sandbox) -> None:
    """Forking until refused stops below the run's process limit."""
    code = """
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError:
    pass
print(n)
"""
    result = await _run(sb, code, limits=Limits(wall_seconds=3.0, max_processes=16))
    assert result.exit_code == 0, result.stderr
    assert 0 < int(result.stdout) < 16


async def test_memory_bomb_single_process_hits_address_space(sb: Sandbox) -> None:
    """One process allocating without bound gets MemoryError from RLIMIT_AS."""
    code = "blocks = []\nwhile True:\n    blocks.append(bytearray(b'x') * (16 << 20))\n"
    result = await _run(sb, code)
    assert result.exit_code == 1
    assert "MemoryError" in result.stderr


async def test_memory_bomb_many_processes_killed_by_rss_watchdog(sb: Sandbox) -> None:
    """Eight forks touching 200 MiB each exceed the aggregate RSS budget and the run is killed."""
    code = """
import os, time
for _ in range(8):
    if os.fork() == 0:
        block = bytearray(b"x") * (200 << 20)
        time.sleep(30)
        os._exit(0)
time.sleep(30)
"""
    limits = Limits(wall_seconds=10.0, aggregate_rss_bytes=512 << 20)
    result = await _run(sb, code, limits=limits)
    assert result.killed_reason == "memory"
    assert not result.timed_out


async def test_thread_bomb_is_bounded(sb: Sandbox) -> None:
    """Starting threads until refused stops at the process limit."""
    code = """
import threading, time
n = 0
try:
    while True:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        n += 1
except RuntimeError:
    pass
print(n, flush=True)
import os
os._exit(0)
"""
    result = await _run(sb, code, limits=Limits(wall_seconds=3.0, max_processes=16))
    assert result.exit_code == 0, result.stderr
    assert 0 < int(result.stdout) < 16


async def test_disk_fill_is_bounded(sb: Sandbox) -> None:
    """One big file stops at RLIMIT_FSIZE; many files stop when the sized workspace is full."""
    code = """
import errno, json, os
out = {}
try:
    with open("big", "wb") as fh:
        while True:
            fh.write(b"x" * (1 << 20))
except OSError as e:
    out["big"] = [e.errno, os.path.getsize("big")]
os.remove("big")
n = 0
try:
    while True:
        with open("f%d" % n, "wb") as fh:
            fh.write(b"x" * (1 << 20))
        n += 1
except OSError as e:
    out["many"] = [e.errno, n]
print(json.dumps(out))
"""
    limits = Limits(wall_seconds=5.0, file_size_bytes=4 << 20, workspace_bytes=8 << 20)
    result = await _run(sb, code, limits=limits)
    facts = _facts(result)
    assert facts["big"] == [27, 4 << 20]  # EFBIG at the limit
    assert facts["many"][0] == 28  # ENOSPC
    assert facts["many"][1] <= 8


async def test_inode_flood_killed_by_watchdog(sb: Sandbox) -> None:
    """Creating empty files without bound is killed by the inode watchdog."""
    code = """
import os
n = 0
while True:
    os.close(os.open("i%d" % n, os.O_CREAT | os.O_WRONLY))
    n += 1
"""
    result = await _run(sb, code, limits=Limits(wall_seconds=10.0, max_inodes=2000))
    assert result.killed_reason == "inodes"


async def test_output_flood_is_capped(sb: Sandbox) -> None:
    """Unbounded output is cut at the cap, marked truncated, and the run killed."""
    code = "import sys\nwhile True:\n    sys.stdout.write('y' * 4096)\n"
    result = await _run(sb, code, limits=Limits(wall_seconds=10.0, output_bytes=32 * 1024))
    assert result.killed_reason == "output_limit"
    assert result.truncated
    assert len(result.stdout) == 32 * 1024


async def test_infinite_loop_times_out(sb: Sandbox) -> None:
    """A busy loop is killed at the wall-time limit."""
    result = await _run(sb, "while True:\n    pass\n", limits=Limits(wall_seconds=1.0))
    assert result.timed_out
    assert result.exit_code == 137


async def test_cpu_limit_stops_a_busy_loop(sb: Sandbox) -> None:
    """With a CPU limit below the wall limit, RLIMIT_CPU ends the loop (SIGXCPU)."""
    result = await _run(
        sb, "while True:\n    pass\n", limits=Limits(wall_seconds=15.0, cpu_seconds=1)
    )
    assert not result.timed_out
    assert result.exit_code == 128 + 24  # SIGXCPU
    assert result.cpu_seconds >= 0.9


@pytest.mark.parametrize("close_fds", [True, False], ids=["fds-closed", "fds-kept"])
async def test_daemon_does_not_outlive_the_run(sb: Sandbox, close_fds: bool) -> None:
    """A double-forked setsid daemon is gone when run returns, and does not delay it."""
    code = f"""
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        if {close_fds}:
            os.closerange(0, 1024)
        time.sleep(100)
    os._exit(0)
os.wait()
print("parent done")
"""
    result = await _run(sb, code, limits=Limits(wall_seconds=20.0))
    assert result.exit_code == 0
    assert result.killed_reason is None
    assert result.stdout == "parent done\n"


async def test_ptrace_and_nested_userns_are_denied(sb: Sandbox) -> None:
    """ptrace attach, unshare(CLONE_NEWUSER), mount and TIOCSTI all fail inside the sandbox."""
    code = """
import ctypes, fcntl, json, os, termios
libc = ctypes.CDLL(None, use_errno=True)
out = {}
out["ptrace"] = [libc.ptrace(16, 1, 0, 0), ctypes.get_errno()]
out["unshare_user"] = [libc.unshare(0x10000000), ctypes.get_errno()]
out["unshare_net"] = [libc.unshare(0x40000000), ctypes.get_errno()]
out["mount"] = [libc.mount(b"none", b"/tmp", b"tmpfs", 0, None), ctypes.get_errno()]
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"x")
    out["tiocsti"] = "ok"
except OSError as e:
    out["tiocsti"] = e.errno
try:
    os.kill(-1, 9)
    out["kill_all"] = "ok"
except OSError as e:
    out["kill_all"] = e.errno
print(json.dumps(out))
"""
    result = await _run(sb, code)
    facts = _facts(result)
    assert facts["ptrace"][0] == -1
    assert facts["unshare_user"][0] == -1
    assert facts["unshare_net"][0] == -1
    assert facts["mount"][0] == -1
    assert facts["tiocsti"] != "ok"
    assert os.getpid() > 0  # the bot survived kill(-1)


async def test_unshare_binary_cannot_create_user_namespace(sb: Sandbox) -> None:
    """The unshare tool fails to create a nested user namespace."""
    result = await sb.run(RunSpec(run_id="unshare", argv=("unshare", "-U", "true"), limits=FAST))
    assert result.exit_code != 0


async def test_raising_own_limits_is_refused(sb: Sandbox) -> None:
    """A run cannot raise its hard rlimits."""
    code = """
import json, resource
out = {}
for name in ("RLIMIT_NPROC", "RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE"):
    res = getattr(resource, name)
    soft, hard = resource.getrlimit(res)
    try:
        resource.setrlimit(res, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        out[name] = "raised"
    except (ValueError, OSError):
        out[name] = "refused"
print(json.dumps(out))
"""
    facts = _facts(await _run(sb, code))
    assert set(facts.values()) == {"refused"}, facts
