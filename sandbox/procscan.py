"""Reading /proc from the bot's side: members of a run's pid namespace, their RSS and CPU.

Used by the watchdog (aggregate RSS, CPU samples), by the inode watchdog (statvfs through
``/proc/<pid>/root``) and by teardown verification on kill paths. Every read tolerates the
process vanishing underneath it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")
_TMPFS_MOUNTS = ("workspace", "tmp", "dev/shm")


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Aggregate usage of the live (non-zombie) members of a pid namespace."""

    pids: tuple[int, ...]
    rss_bytes: int
    cpu_seconds: float


def _pid_dirs() -> list[int]:
    """Numeric entries of /proc."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _in_namespace(pid: int, ns_inode: int) -> bool:
    """True when ``pid`` lives in the pid namespace with inode ``ns_inode``."""
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino == ns_inode
    except OSError:
        return False


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def is_zombie(pid: int) -> bool:
    """True when ``pid`` has exited but is not yet reaped (or is gone)."""
    fields = _stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


def namespace_members(ns_inode: int) -> list[int]:
    """Pids of non-zombie processes in the pid namespace ``ns_inode``."""
    members = []
    for pid in _pid_dirs():
        if _in_namespace(pid, ns_inode):
            fields = _stat_fields(pid)
            if fields is not None and fields[0] not in ("Z", "X"):
                members.append(pid)
    return members


def namespace_usage(ns_inode: int) -> Usage:
    """Sum RSS and CPU (own plus reaped children) over the namespace's live members."""
    pids: list[int] = []
    rss = 0
    ticks = 0
    for pid in _pid_dirs():
        if not _in_namespace(pid, ns_inode):
            continue
        fields = _stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            continue
        pids.append(pid)
        # stat fields 14-17 (utime stime cutime cstime) and 24 (rss), counted from 1 with pid.
        ticks += sum(int(f) for f in fields[11:15])
        rss += int(fields[21]) * _PAGE
    return Usage(pids=tuple(pids), rss_bytes=rss, cpu_seconds=ticks / _TICK)


def session_members(sid: int) -> list[int]:
    """Pids of non-zombie processes whose session id is ``sid`` (weak mode teardown)."""
    members = []
    for pid in _pid_dirs():
        fields = _stat_fields(pid)
        if fields is not None and fields[0] not in ("Z", "X") and int(fields[3]) == sid:
            members.append(pid)
    return members


def inodes_used(child_pid: int) -> int:
    """Inodes in use on the run's tmpfs mounts, seen through ``/proc/<pid>/root``."""
    used = 0
    for mount in _TMPFS_MOUNTS:
        try:
            st = os.statvfs(f"/proc/{child_pid}/root/{mount}")
        except OSError:
            continue
        used += st.f_files - st.f_ffree
    return used
