"""The environment and identity a run sees: an explicit allowlist, never the bot's own env.

The process spawned for a run (bubblewrap, or prlimit in weak mode) receives exactly
PATH, LANG, HOME and the run's own named secrets, so even bubblewrap's pid 1 inside the
namespace (which keeps the environment it was started with) holds nothing of the bot's.
``/etc/passwd`` and ``/etc/group`` inside the sandbox are synthesized with one entry each.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.models import SandboxConfig

WORKSPACE = "/workspace"
SETPRIV = "/usr/bin/setpriv"
ALLOWED_ENV_KEYS = frozenset({"PATH", "LANG", "HOME", "PWD"})


def run_env(config: SandboxConfig, secrets: Mapping[str, str], *, home: str) -> dict[str, str]:
    """The complete environment of a run: the allowlist plus this run's secrets, nothing else."""
    env = {"PATH": config.env_path, "LANG": config.lang, "HOME": home}
    env.update(secrets)
    return env


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Host identity of a run; ``switch`` is False when it keeps the bot's own ids."""

    uid: int
    gid: int
    switch: bool
    via_setpriv: bool = False

    def spawn_prefix(self) -> list[str]:
        """Argv prefix that drops to the run's ids (setpriv mode), else nothing."""
        if not (self.switch and self.via_setpriv):
            return []
        return [SETPRIV, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--"]

    def spawn_kwargs(self) -> dict[str, object]:
        """``create_subprocess_exec`` arguments that drop to the run's ids (spawn mode)."""
        if not self.switch or self.via_setpriv:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def run_identity(config: SandboxConfig) -> Identity | None:
    """Pick the host identity of runs; None when root has no sandbox uid configured."""
    if os.geteuid() != 0:
        return Identity(uid=os.geteuid(), gid=os.getegid(), switch=False)
    if config.sandbox_uid is None or config.sandbox_gid is None:
        return None
    return Identity(
        uid=config.sandbox_uid,
        gid=config.sandbox_gid,
        switch=True,
        via_setpriv=config.uid_switch == "setpriv",
    )


def passwd_data(identity: Identity) -> bytes:
    """One-line /etc/passwd for the sandbox user."""
    return (
        f"sandbox:x:{identity.uid}:{identity.gid}:sandbox:{WORKSPACE}:/usr/sbin/nologin\n".encode()
    )


def group_data(identity: Identity) -> bytes:
    """One-line /etc/group for the sandbox group."""
    return f"sandbox:x:{identity.gid}:\n".encode()
