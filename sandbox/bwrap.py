"""Building the bubblewrap command line for one run, and checking the bubblewrap binary.

The layout is an allowlist: /usr read-only, the merged-usr symlinks (or read-only binds on a
split-usr system), a few files of /etc, synthesized passwd/group, fresh /proc and /dev, sized
tmpfs for /workspace (the cwd), /tmp and /dev/shm, then everything remounted read-only. The
host root, homes, /run (sockets), /var, /srv, the bot's venv and data are never bound.
All namespaces are unshared (user, pid, net, ipc, uts, mount, cgroup), nested user namespaces
are disabled, capabilities dropped, a new session started, and bwrap dies with the bot.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

from sandbox.env import WORKSPACE
from sandbox.limits import Limits

MIN_VERSION = (0, 8, 0)
SNIPPET_PATH = "/sandbox/snippet.py"
_TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives", "/etc/nsswitch.conf")
_VERSION = re.compile(r"bubblewrap (\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True, kw_only=True)
class SpawnFds:
    """Inherited file descriptors bwrap reads (seccomp, passwd, group, snippet) or writes (info)."""

    seccomp: int
    passwd: int
    group: int
    info: int
    snippet: int | None = None

    def all(self) -> tuple[int, ...]:
        """Every fd to pass to the child."""
        fds = (self.seccomp, self.passwd, self.group, self.info)
        return (*fds, self.snippet) if self.snippet is not None else fds


def parse_version(text: str) -> tuple[int, int, int] | None:
    """Parse ``bwrap --version`` output into a comparable tuple."""
    match = _VERSION.search(text)
    if match is None:
        return None
    return (int(match[1]), int(match[2]), int(match[3] or 0))


@functools.cache
def _root_layout() -> tuple[str, ...]:
    """Binds for /bin, /lib ... as on the host: symlinks stay symlinks, directories are bound."""
    args: list[str] = []
    for name in _TOP_LEVEL:
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    for path in _ETC_FILES:
        args += ["--ro-bind-try", path, path]
    return tuple(args)


def bwrap_argv(
    bwrap: str,
    limits: Limits,
    fds: SpawnFds,
    inner: list[str],
    *,
    extra_ro_binds: tuple[str, ...] = (),
    prlimit: bool = True,
) -> list[str]:
    """The full argv: bwrap, its options, then ``prlimit ... -- inner`` (or just ``inner``)."""
    argv = [
        bwrap,
        "--unshare-user", "--unshare-all", "--disable-userns",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
        *_root_layout(),
        "--ro-bind-data", str(fds.passwd), "/etc/passwd",
        "--ro-bind-data", str(fds.group), "/etc/group",
    ]  # fmt: skip
    for path in extra_ro_binds:
        argv += ["--ro-bind", path, path]
    if fds.snippet is not None:
        argv += ["--ro-bind-data", str(fds.snippet), SNIPPET_PATH]
    argv += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm",  # noqa: S108 - a fresh sized tmpfs
        "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",  # noqa: S108 - a fresh sized tmpfs
        "--size", str(limits.workspace_bytes), "--tmpfs", WORKSPACE,
        "--chdir", WORKSPACE,
        "--remount-ro", "/dev",
        "--remount-ro", "/",
        "--seccomp", str(fds.seccomp),
        "--info-fd", str(fds.info),
        "--",
        *(limits.prlimit_argv() if prlimit else []),
        *inner,
    ]  # fmt: skip
    return argv


def data_fd(name: str, data: bytes) -> int:
    """A memfd holding ``data`` at offset 0, for ``--ro-bind-data`` or ``--seccomp``."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
