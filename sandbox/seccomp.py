"""The seccomp filter handed to bubblewrap with ``--seccomp FD``.

A denylist with default ALLOW, compiled once with ``pyseccomp`` to BPF bytes. Only the native
architecture is accepted (foreign-arch syscalls KILL the process). Denied:

* debugging and cross-process memory access (ptrace, process_vm_*, kcmp, pidfd_getfd);
* namespaces and mounts (unshare, setns, mount family, chroot, pivot_root, clone with CLONE_NEW*);
  ``clone3`` answers ENOSYS so that libc falls back to ``clone``, whose flags we can inspect;
* kernel attack surface (bpf, perf_event_open, userfaultfd, io_uring, keyrings, fanotify,
  open_by_handle_at, modules, kexec, reboot, swap, clock setting, hostname, ...);
* sockets of any family but AF_UNIX (EAFNOSUPPORT);
* terminal injection: ioctl TIOCSTI and TIOCLINUX.
"""

from __future__ import annotations

import errno
import functools
import tempfile

import pyseccomp as seccomp

from sandbox.bwrap import data_fd

_EPERM_SYSCALLS = (
    # debugging, cross-process memory
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # namespaces and mounts
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # kernel attack surface
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "fanotify_init",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "syslog", "uselib",
    "modify_ldt", "iopl", "ioperm", "acct", "quotactl", "nfsservctl", "personality",
    # system administration
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "sethostname", "setdomainname", "vhangup",
)  # fmt: skip

CLONE_NEW_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
    | 0x00000080  # CLONE_NEWTIME
)
_AF_UNIX = 1
_TIOCSTI = 0x5412
_TIOCLINUX = 0x541C
_PERSONALITY_QUERY = 0xFFFFFFFF


def _add_if_known(flt: seccomp.SyscallFilter, action: int, name: str, *args: seccomp.Arg) -> None:
    """Add a rule unless this kernel/libseccomp does not know the syscall on this arch."""
    try:
        flt.add_rule(action, name, *args)
    except (OSError, ValueError):
        return


def _build_filter() -> seccomp.SyscallFilter:
    """Construct the filter object (not yet exported)."""
    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    flt.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    eperm = seccomp.ERRNO(errno.EPERM)
    for name in _EPERM_SYSCALLS:
        if name == "personality":
            # personality(0xffffffff) only queries; anything else could re-enable legacy layouts.
            _add_if_known(flt, eperm, name, seccomp.Arg(0, seccomp.NE, _PERSONALITY_QUERY))
            continue
        _add_if_known(flt, eperm, name)
    _add_if_known(flt, seccomp.ERRNO(errno.ENOSYS), "clone3")
    # clone(flags): deny when any CLONE_NEW* bit is set; one rule per bit (rules are ORed).
    bit = 1
    while bit <= CLONE_NEW_FLAGS:
        if CLONE_NEW_FLAGS & bit:
            _add_if_known(flt, eperm, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, bit, bit))
        bit <<= 1
    _add_if_known(
        flt, seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.NE, _AF_UNIX)
    )
    for request in (_TIOCSTI, _TIOCLINUX):
        _add_if_known(flt, eperm, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, request))
    return flt


@functools.cache
def filter_bpf() -> bytes:
    """Return the compiled BPF program (computed once per process)."""
    flt = _build_filter()
    with tempfile.TemporaryFile() as tmp:
        flt.export_bpf(tmp)
        tmp.seek(0)
        data = tmp.read()
    if not data:
        raise OSError(errno.EINVAL, "empty seccomp program")
    return data


def bpf_fd() -> int:
    """Return a fresh memfd holding the BPF program; bwrap consumes it, the caller closes it."""
    return data_fd("sandbox-seccomp", filter_bpf())
