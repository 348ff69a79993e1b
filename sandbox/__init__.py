"""Running one command in isolation: bubblewrap namespaces, seccomp, rlimits, a clean environment, watchdogs, reaping.

Imports nothing of ours.

The port is ``Sandbox.run(spec) -> RunResult``; ``Sandbox.selftest()`` proves the isolation from
inside before anything runs (fail closed: ``SandboxUnavailable``). Only this package spawns
processes. Modules: ``runner`` (the port, registry, self-test gate), ``supervise`` (one process:
caps, watchdogs), ``reap`` (killing, reaping, teardown checks), ``bwrap`` (command line),
``seccomp`` (filter), ``limits``, ``env``, ``snippet`` (Python wrapper and import guard),
``selftest`` (probe and checks), ``procscan`` (/proc reading), ``models`` (values), ``errors``,
``cli`` (plain functions for the CLI).

Process-wide effects: the first run makes the bot a child subreaper (so it can reap each run's
namespace init and know the run is fully torn down); on Python 3.11 the bot should call
``use_pidfd_child_watcher()`` once from its event loop at start-up (no thread per child).
"""

from sandbox.errors import InvalidRunSpec, SandboxError, SandboxUnavailable
from sandbox.limits import Limits
from sandbox.models import Check, LiveRun, RunResult, RunSpec, SandboxConfig, SelfTestReport
from sandbox.reap import use_pidfd_child_watcher
from sandbox.runner import Sandbox

__all__ = [
    "Check",
    "InvalidRunSpec",
    "Limits",
    "LiveRun",
    "RunResult",
    "RunSpec",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailable",
    "SelfTestReport",
    "use_pidfd_child_watcher",
]
