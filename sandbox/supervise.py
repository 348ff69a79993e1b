"""Supervising one spawned run: output caps, wall time, watchdogs, cancellation, killing everything.

``supervise`` spawns the (already built) argv with ``asyncio.create_subprocess_exec`` - no shell,
no ``preexec_fn``, a clean explicit environment, a new session, and a dedicated uid/gid when the
bot is root - and returns a ``RunOutcome`` whatever happens. Killing (timeout, output overflow,
memory or inode budget, ``kill`` by id, cancellation) sends SIGKILL to the pid-namespace init
through a pidfd (the kernel then kills every member, daemons included) and to bubblewrap's
process group (see ``reap.py``); teardown is verified by a /proc scan only on those kill paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass

from sandbox import procscan
from sandbox.env import Identity
from sandbox.limits import Limits
from sandbox.reap import REAP_GRACE, RunHandle, become_subreaper, finish_namespace, verify_teardown

_CHUNK = 65536
_DRAIN_GRACE = 2.0


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


async def supervise(req: SpawnRequest, handle: RunHandle) -> RunOutcome:
    """Spawn and supervise one run; always returns, kills everything it started on every exit."""
    identity = req.identity
    switch = identity.spawn_kwargs()
    become_subreaper()
    start = time.monotonic()
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(  # noqa: TID251 - the one place that spawns
            *identity.spawn_prefix(),
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
    )
    # A cancellation while spawning must not lose the child: the fork may already have
    # happened. Finish spawning, then kill and reap it like any other run, and only
    # then let the cancellation through.
    cancelled = False
    try:
        while True:
            try:
                proc = await asyncio.shield(spawn)
                break
            except asyncio.CancelledError:
                cancelled = True
                if spawn.done() and not spawn.cancelled():
                    proc = spawn.result()
                    break
                if spawn.done():
                    raise
    except BaseException:
        if req.info_fd is not None:
            os.close(req.info_fd)
        raise
    finally:
        for fd in req.pass_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
    handle.pid = proc.pid
    if cancelled:
        handle.kill("cancelled")
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
                await asyncio.wait_for(proc.wait(), timeout=REAP_GRACE)
        handle.exited = proc.returncode is not None
        if info_task is not None:
            await asyncio.wait([info_task], timeout=_DRAIN_GRACE)
        _, pending = await asyncio.wait(pumps, timeout=_DRAIN_GRACE)
        if pending:
            # Something outside the namespace still holds the pipes (weak mode): end it.
            handle.kill(handle.kill_reason or "killed")
            await asyncio.wait(pumps, timeout=_DRAIN_GRACE)
    except asyncio.CancelledError:
        handle.kill("cancelled")
        raise
    except BaseException:
        handle.kill("killed")
        raise
    finally:
        handle.exited = proc.returncode is not None
        if not handle.exited:
            handle.signal_all()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=REAP_GRACE)
            handle.exited = proc.returncode is not None
        if info_task is not None and not info_task.done():
            # EOF on the info pipe comes at bwrap's exit at the latest; we need the init's pid.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([info_task], timeout=_DRAIN_GRACE)
        for task in (*helpers, *pumps):
            task.cancel()
        cpu = await finish_namespace(handle)
        if handle.kill_reason is not None or not handle.namespaced:
            leftover = await verify_teardown(handle)
        if req.info_fd is not None:
            asyncio.get_running_loop().remove_reader(req.info_fd)
            with contextlib.suppress(OSError):
                os.close(req.info_fd)
    if cancelled:
        raise asyncio.CancelledError
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
