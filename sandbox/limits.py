"""Per-run resource limits: the ``Limits`` value and how it becomes rlimits inside the sandbox.

Rlimits are applied *inside* the sandbox with ``prlimit`` (after the user namespace exists), so
RLIMIT_NPROC counts the processes of this run only. Everything an rlimit cannot bound (aggregate
RSS over many processes, tmpfs inodes, output volume, wall time) is enforced by the bot-side
watchdog in ``supervise.py``; tmpfs sizes are passed to bubblewrap with ``--size``.
"""

from __future__ import annotations

import dataclasses
import resource
from dataclasses import dataclass

from sandbox.errors import InvalidRunSpec

MIB = 1024 * 1024
PRLIMIT = "/usr/bin/prlimit"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Resource limits of one run; every field must be positive."""

    wall_seconds: float = 30.0
    cpu_seconds: int = 10
    address_space_bytes: int = 512 * MIB
    max_processes: int = 32
    file_size_bytes: int = 16 * MIB
    open_files: int = 128
    output_bytes: int = 256 * 1024
    aggregate_rss_bytes: int = 768 * MIB
    max_inodes: int = 10_000
    workspace_bytes: int = 64 * MIB
    tmp_bytes: int = 64 * MIB
    shm_bytes: int = 8 * MIB

    def __post_init__(self) -> None:
        """Reject zero, negative or absurd values with the name of the field."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidRunSpec(f"limits.{field.name}", "must be a number")
            if value <= 0:
                raise InvalidRunSpec(f"limits.{field.name}", "must be positive")
        if self.wall_seconds > 24 * 3600:
            raise InvalidRunSpec("limits.wall_seconds", "must be at most one day")
        if self.max_processes < 2:
            raise InvalidRunSpec("limits.max_processes", "must be at least 2")
        if self.open_files < 8:
            raise InvalidRunSpec("limits.open_files", "must be at least 8")

    def with_overrides(
        self, *, wall_seconds: float | None = None, address_space_bytes: int | None = None
    ) -> Limits:
        """Return a copy with the given fields replaced (None keeps the current value)."""
        return dataclasses.replace(
            self,
            wall_seconds=self.wall_seconds if wall_seconds is None else wall_seconds,
            address_space_bytes=(
                self.address_space_bytes if address_space_bytes is None else address_space_bytes
            ),
        )

    def rlimits(self) -> dict[int, tuple[int, int]]:
        """The (soft, hard) rlimits a process of this run must have, keyed by RLIMIT_* number."""
        return {
            resource.RLIMIT_AS: (self.address_space_bytes, self.address_space_bytes),
            resource.RLIMIT_CPU: (self.cpu_seconds, self.cpu_seconds + 1),
            resource.RLIMIT_NPROC: (self.max_processes, self.max_processes),
            resource.RLIMIT_FSIZE: (self.file_size_bytes, self.file_size_bytes),
            resource.RLIMIT_NOFILE: (self.open_files, self.open_files),
            resource.RLIMIT_CORE: (0, 0),
        }

    def rlimit_spec(self) -> str:
        """The rlimits as ``res:soft:hard,...`` for the snippet wrapper."""
        return ",".join(f"{res}:{soft}:{hard}" for res, (soft, hard) in self.rlimits().items())

    def prlimit_argv(self) -> list[str]:
        """The ``prlimit`` prefix that applies these rlimits and then execs the command."""
        return [
            PRLIMIT,
            f"--as={self.address_space_bytes}",
            f"--cpu={self.cpu_seconds}:{self.cpu_seconds + 1}",
            f"--nproc={self.max_processes}",
            f"--fsize={self.file_size_bytes}",
            f"--nofile={self.open_files}",
            "--core=0",
            "--",
        ]
