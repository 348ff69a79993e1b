"""Killing and reaping a run: the live-run handle, SIGKILL paths, and teardown verification.

A ``RunHandle`` kills a run by sending SIGKILL to the pid-namespace init through a pidfd (the
kernel then kills every member, daemons included) and to bubblewrap's process group. bubblewrap
reports the exit status before its pid 1 has finished tearing the namespace down, so the bot
makes itself a child subreaper, waits on the init's pidfd and reaps it with ``wait4`` (which
also yields the run's exact CPU time). After a kill, or after any weak-mode run, a /proc scan
finds and kills whatever is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox import procscan

REAP_GRACE = 5.0
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


async def pidfd_exited(pidfd: int, grace: float) -> bool:
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


async def verify_teardown(handle: RunHandle) -> int:
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
            if procscan.is_zombie(pid):
                if pid != handle.pid:  # the spawned process itself is asyncio's to reap
                    _reap(pid)  # orphans are reparented to the bot (a subreaper)
                pending.discard(pid)
    return len(left)


async def finish_namespace(handle: RunHandle) -> float | None:
    """Wait for the namespace init to exit (teardown complete), reap it, close the pidfd.

    bubblewrap reports the exit status before its pid 1 has finished killing the namespace, so
    without this wait a daemon could still be dying when ``run`` returns.
    """
    pidfd, child_pid = handle.pidfd, handle.child_pid
    if pidfd is None or child_pid is None:
        return None
    try:
        if not await pidfd_exited(pidfd, REAP_GRACE):
            handle.kill(handle.kill_reason or "killed")
            await pidfd_exited(pidfd, REAP_GRACE)
        return _reap(child_pid)
    finally:
        handle.pidfd = None
        os.close(pidfd)
