"""Supervising one spawned run: output caps, wall time, watchdogs, cancellation, killing everything.

``supervise`` spawns the (already built) argv with ``asyncio.create_subprocess_exec`` - no shell,
no ``preexec_fn``, a clean explicit environment, a new session, and a dedicated uid/gid when the
bot is root - and returns a ``RunOutcome`` whatever happens. Killing (timeout, output overflow,
memory or inode budget, ``kill`` by id, cancellation) sends SIGKILL to the pid-namespace init
through a pidfd (the kernel then kills every member, daemons included) and to bubblewrap's
process group; teardown is verified by a /proc scan only on those kill paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox import procscan
from sandbox.env import Identity
from sandbox.limits import Limits

_CHUNK = 65536
_DRAIN_GRACE = 2.0
_REAP_GRACE = 5.0
_PR_SET_CHILD_SUBREAPER = 36
_TEARDOWN_POLL = 0.01
_TEARDOWN_POLLS = 200


@dataclass(slots=True, kw_only=True)
class RunHandle:
    """Mutable bookkeeping of one live run; ``kill`` may be called from anywhere in the loop."""

    run_id: str
    requested_by: str
    tool: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    pid: int = 0
    namespaced: bool = True
    kill_reason: str | None = None
    exited: bool = False
    child_pid: int | None = None
    ns_inode: int | None = None
    pidfd: int | None = None
    cpu_sample: float = 0.0

    def kill(self, reason: str) -> None:
        """Record the first reason and SIGKILL the namespace init and bwrap's process group."""
        if self.kill_reason is None:
            self.kill_reason = reason
        self.signal_all()

    def signal_all(self) -> None:
        """Send SIGKILL to everything this run owns that is still addressable."""
        if self.pidfd is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        if self.pid and (not self.exited or not self.namespaced):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpawnRequest:
    """Everything needed to start one run's process."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    pass_fds: tuple[int, ...]
    info_fd: int | None
    identity: Identity
    limits: Limits
    stdin: bytes
    first_poll: float
    poll_interval: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """Raw outcome of a supervised process."""

    exit_code: int
    killed_reason: str | None
    stdout: bytes
    stderr: bytes
    truncated: bool
    duration_ms: float
    cpu_seconds: float
    leftover: int


class _Output:
    """A capped byte sink for one stream; overflow kills the run."""

    def __init__(self, cap: int, handle: RunHandle) -> None:
        self.cap = cap
        self.handle = handle
        self.data = bytearray()
        self.truncated = False

    async def pump(self, stream: asyncio.StreamReader) -> None:
        """Read until EOF, keeping at most ``cap`` bytes."""
        while chunk := await stream.read(_CHUNK):
            room = self.cap - len(self.data)
            if len(chunk) > room:
                self.data += chunk[: max(room, 0)]
                if not self.truncated:
                    self.truncated = True
                    self.handle.kill("output_limit")
            else:
                self.data += chunk


async def _read_info(fd: int, handle: RunHandle) -> None:
    """Read bwrap's --info-fd JSON and take a pidfd on the namespace init."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()
    buf = bytearray()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            buf.extend(chunk)
            return
        loop.remove_reader(fd)
        if not done.done():
            done.set_result(bytes(buf))

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        raw = await done
    finally:
        loop.remove_reader(fd)
    try:
        info = json.loads(raw)
        child_pid, ns_inode = int(info["child-pid"]), int(info["pid-namespace"])
    except (ValueError, KeyError, TypeError):
        return
    try:
        pidfd = os.pidfd_open(child_pid)
    except OSError:
        return
    # Guard against pid reuse: the pid must still be in the run's namespace.
    try:
        same = os.stat(f"/proc/{child_pid}/ns/pid").st_ino == ns_inode
    except OSError:
        same = False
    if not same:
        os.close(pidfd)
        return
    handle.child_pid, handle.ns_inode, handle.pidfd = child_pid, ns_inode, pidfd
    if handle.kill_reason is not None:
        handle.signal_all()


async def _exited(pidfd: int, grace: float) -> bool:
    """Wait until the process behind ``pidfd`` has exited (pidfds poll readable then)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await asyncio.wait_for(done, timeout=grace)
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(pidfd)
    return True


async def _watchdog(handle: RunHandle, limits: Limits, first: float, interval: float) -> None:
    """Poll aggregate RSS, CPU and tmpfs inodes of the run; kill when over budget."""
    await asyncio.sleep(first)
    while not handle.exited:
        if handle.ns_inode is not None and handle.child_pid is not None:
            usage = procscan.namespace_usage(handle.ns_inode)
            handle.cpu_sample = max(handle.cpu_sample, usage.cpu_seconds)
            if usage.rss_bytes > limits.aggregate_rss_bytes:
                handle.kill("memory")
                return
            if procscan.inodes_used(handle.child_pid) > limits.max_inodes:
                handle.kill("inodes")
                return
        elif not handle.namespaced and handle.pid:
            members = procscan.session_members(handle.pid)
            if not members:
                return
        await asyncio.sleep(interval)


async def _feed(stream: asyncio.StreamWriter, data: bytes) -> None:
    """Write stdin and close it; a reader that goes away is not an error."""
    with contextlib.suppress(ConnectionError, BrokenPipeError):
        stream.write(data)
        await stream.drain()
    with contextlib.suppress(ConnectionError, BrokenPipeError):
        stream.close()


@functools.cache
def become_subreaper() -> bool:
    """Make the bot a child subreaper (once), so orphaned namespace inits are reparented to it.

    bubblewrap reports the exit status before its pid 1 has been reaped; as a subreaper the bot
    reaps that pid 1 itself with ``wait4`` and so learns the run's exact CPU time.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def use_pidfd_child_watcher() -> bool:
    """On Python 3.11, replace the thread-per-child watcher with a pidfd one on the running loop.

    Call once at bot start-up from inside the (long-lived) event loop. The default
    ThreadedChildWatcher of 3.11 starts a thread per child (about 1 ms per run, and a thread may
    fail to start when the host is short of processes); PidfdChildWatcher is the default from
    3.12 on, where this is a no-op. Not used by the tests, which run one loop per test.
    """
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    asyncio.get_event_loop_policy().set_child_watcher(watcher)
    return True


def _reap(pid: int) -> float | None:
    """Reap our (reparented) child ``pid`` if it has exited; its CPU seconds, or None."""
    try:
        got, _, usage = os.wait4(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if got != pid:
        return None
    return float(usage.ru_utime + usage.ru_stime)


async def _verify_teardown(handle: RunHandle) -> int:
    """After a kill (or any weak-mode run): SIGKILL whatever is left of the run and reap it.

    Returns how many processes were found still alive.
    """
    if handle.namespaced and handle.ns_inode is not None:
        left = procscan.namespace_members(handle.ns_inode)
    elif not handle.namespaced and handle.pid:
        left = procscan.session_members(handle.pid)
    else:
        return 0
    for pid in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    pending = set(left)
    for _ in range(_TEARDOWN_POLLS):
        if not pending:
            break
        await asyncio.sleep(_TEARDOWN_POLL)
        for pid in list(pending):
            _reap(pid)  # orphans are reparented to the bot (a subreaper)
            if procscan.is_zombie(pid):
                _reap(pid)
                pending.discard(pid)
    return len(left)


async def _finish_namespace(handle: RunHandle) -> float | None:
    """Wait for the namespace init to exit (teardown complete), reap it, close the pidfd.

    bubblewrap reports the exit status before its pid 1 has finished killing the namespace, so
    without this wait a daemon could still be dying when ``run`` returns.
    """
    pidfd, child_pid = handle.pidfd, handle.child_pid
    if pidfd is None or child_pid is None:
        return None
    try:
        if not await _exited(pidfd, _REAP_GRACE):
            handle.kill(handle.kill_reason or "killed")
            await _exited(pidfd, _REAP_GRACE)
        return _reap(child_pid)
    finally:
        handle.pidfd = None
        os.close(pidfd)


async def supervise(req: SpawnRequest, handle: RunHandle) -> RunOutcome:
    """Spawn and supervise one run; always returns, kills everything it started on every exit."""
    identity = req.identity
    switch: dict[str, object] = {}
    if identity.switch:
        switch = {"user": identity.uid, "group": identity.gid, "extra_groups": []}
    become_subreaper()
    start = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(  # noqa: TID251 - the one place that spawns
            *req.argv,
            stdin=asyncio.subprocess.PIPE if req.stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=req.env,
            cwd=req.cwd,
            pass_fds=req.pass_fds,
            start_new_session=True,
            **switch,  # type: ignore[arg-type]
        )
    except BaseException:
        if req.info_fd is not None:
            os.close(req.info_fd)
        raise
    finally:
        for fd in req.pass_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
    handle.pid = proc.pid
    if handle.kill_reason is not None:
        handle.signal_all()
    assert proc.stdout is not None
    assert proc.stderr is not None
    out = _Output(req.limits.output_bytes, handle)
    err = _Output(req.limits.output_bytes, handle)
    pumps = [
        asyncio.ensure_future(out.pump(proc.stdout)),
        asyncio.ensure_future(err.pump(proc.stderr)),
    ]
    helpers: list[asyncio.Future[None]] = [
        asyncio.ensure_future(_watchdog(handle, req.limits, req.first_poll, req.poll_interval))
    ]
    info_task = None
    if req.info_fd is not None:
        info_task = asyncio.ensure_future(_read_info(req.info_fd, handle))
        helpers.append(info_task)
    if req.stdin and proc.stdin is not None:
        helpers.append(asyncio.ensure_future(_feed(proc.stdin, req.stdin)))
    leftover = 0
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout=req.limits.wall_seconds)
        except TimeoutError:
            handle.kill("timeout")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=_REAP_GRACE)
        handle.exited = proc.returncode is not None
        if info_task is not None:
            await asyncio.wait([info_task], timeout=_DRAIN_GRACE)
        _, pending = await asyncio.wait(pumps, timeout=_DRAIN_GRACE)
        if pending:
            # Something outside the namespace still holds the pipes (weak mode): end it.
            handle.kill(handle.kill_reason or "killed")
            await asyncio.wait(pumps, timeout=_DRAIN_GRACE)
    except BaseException:
        handle.kill("cancelled")
        raise
    finally:
        handle.exited = proc.returncode is not None
        if not handle.exited:
            handle.signal_all()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=_REAP_GRACE)
            handle.exited = proc.returncode is not None
        if info_task is not None and not info_task.done():
            # EOF on the info pipe comes at bwrap's exit at the latest; we need the init's pid.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([info_task], timeout=_DRAIN_GRACE)
        for task in (*helpers, *pumps):
            task.cancel()
        cpu = await _finish_namespace(handle)
        if handle.kill_reason is not None or not handle.namespaced:
            leftover = await _verify_teardown(handle)
        if req.info_fd is not None:
            asyncio.get_running_loop().remove_reader(req.info_fd)
            with contextlib.suppress(OSError):
                os.close(req.info_fd)
    duration_ms = (time.monotonic() - start) * 1000.0
    code = proc.returncode if proc.returncode is not None else -signal.SIGKILL
    return RunOutcome(
        exit_code=code if code >= 0 else 128 - code,
        killed_reason=handle.kill_reason,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        truncated=out.truncated or err.truncated,
        duration_ms=duration_ms,
        cpu_seconds=round(max(cpu if cpu is not None else 0.0, handle.cpu_sample), 3),
        leftover=leftover,
    )
