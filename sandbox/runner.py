"""The sandbox port: ``Sandbox.run(spec) -> RunResult``, the self-test gate, the live-run registry.

``run`` never executes unchecked: before the first self-test it runs one, and while the last
self-test failed it raises ``SandboxUnavailable`` with the reason. Strong mode is bubblewrap
(see ``bwrap.py``); weak mode (clean env, new session, temp cwd, rlimits, dedicated uid when
root; no filesystem, network or pid isolation) is used only when the strong self-test fails and
``allow_weak_isolation`` is set, and is logged loudly at every self-test. A semaphore caps the
number of concurrent runs; every live run is listed with who asked, which tool, since when.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets as _secrets
import shutil
import tempfile
import time

from sandbox import bwrap, procscan, seccomp, selftest
from sandbox.env import SETPRIV, WORKSPACE, Identity, group_data, passwd_data, run_env, run_identity
from sandbox.errors import InvalidRunSpec, SandboxUnavailable
from sandbox.limits import PRLIMIT, Limits
from sandbox.models import Check, LiveRun, RunResult, RunSpec, SandboxConfig, SelfTestReport
from sandbox.reap import RunHandle
from sandbox.snippet import python_argv
from sandbox.supervise import RunOutcome, SpawnRequest, supervise

log = logging.getLogger(__name__)
_VERSION_TIMEOUT = 5.0
_PROBE_LIMITS_WALL = 10.0


class Sandbox:
    """Runs already-rendered commands or Python snippets in isolation; fails closed."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        """Keep the configuration; nothing is checked until ``selftest`` (or the first ``run``)."""
        self._config = config or SandboxConfig()
        self._slots = asyncio.Semaphore(self._config.max_concurrent)
        self._runs: dict[str, RunHandle] = {}
        self._report: SelfTestReport | None = None
        self._reason: str | None = "self-test has not run"
        self._weak = False
        self._selftest_lock = asyncio.Lock()
        self._first_selftest = asyncio.Lock()

    @property
    def config(self) -> SandboxConfig:
        """The configuration this sandbox was built with."""
        return self._config

    @property
    def available(self) -> bool:
        """True when the last self-test passed (strong, or weak when allowed)."""
        return self._reason is None

    @property
    def unavailable_reason(self) -> str | None:
        """Why runs are refused, or None when they are allowed."""
        return self._reason

    @property
    def weak(self) -> bool:
        """True when runs use weak isolation."""
        return self._weak

    @property
    def last_report(self) -> SelfTestReport | None:
        """The last self-test report, if any."""
        return self._report

    # -- self-test -----------------------------------------------------------------------------

    async def selftest(self) -> SelfTestReport:
        """Check the production configuration from inside; set availability from the result."""
        async with self._selftest_lock:
            started = time.monotonic()
            if self._config.allow_weak_isolation:
                log.warning(
                    "SANDBOX WARNING: allow_weak_isolation is set; if bubblewrap isolation fails "
                    "its self-test, runs will have NO filesystem, network or pid isolation"
                )
            report = await self._selftest_mode(weak=False)
            if not report.ok and self._config.allow_weak_isolation:
                strong_reason = report.reason
                report = await self._selftest_mode(weak=True)
                if report.ok:
                    log.warning(
                        "SANDBOX WARNING: running with WEAK isolation (no filesystem, network or "
                        "pid isolation) because strong isolation is unavailable: %s",
                        strong_reason,
                    )
            ms = (time.monotonic() - started) * 1000.0
            report = SelfTestReport(
                ok=report.ok, checks=report.checks, reason=report.reason, weak=report.weak,
                duration_ms=ms,
            )  # fmt: skip
            self._report = report
            self._weak = report.ok and report.weak
            self._reason = None if report.ok else report.reason
            if not report.ok:
                log.error("sandbox unavailable, code execution disabled: %s", report.reason)
            return report

    async def _selftest_mode(self, *, weak: bool) -> SelfTestReport:
        """Run the host-side preconditions and the probe for one mode."""
        checks = await self._preconditions(weak=weak)
        if all(c.passed for c in checks):
            checks += await self._probe(weak=weak)
        failed = next((c for c in checks if not c.passed), None)
        reason = None if failed is None else f"{failed.name}: {failed.detail}"
        if failed is not None and weak:
            reason = f"weak isolation: {reason}"
        return SelfTestReport(ok=failed is None, checks=tuple(checks), reason=reason, weak=weak)

    async def _preconditions(self, *, weak: bool) -> list[Check]:
        """Checks that need no sandbox: identity, binaries, bubblewrap version."""
        cfg = self._config
        identity = run_identity(cfg)
        checks = [
            Check(name="identity", passed=identity is not None,
                  detail="euid is 0 and no sandbox uid is configured" if identity is None
                  else f"runs as uid {identity.uid} gid {identity.gid}"),
            _exists("prlimit", PRLIMIT),
            _exists("python", cfg.python_path),
        ]  # fmt: skip
        if identity is not None and identity.via_setpriv:
            checks.append(_exists("setpriv", SETPRIV))
        if weak:
            return checks
        checks.append(_exists("bwrap", cfg.bwrap_path))
        if checks[-1].passed:
            version = await self._bwrap_version()
            ok = version is not None and version >= bwrap.MIN_VERSION
            shown = "unknown" if version is None else ".".join(map(str, version))
            checks.append(Check(name="bwrap_version", passed=ok,
                                detail=f"bubblewrap {shown}, need >= 0.8"))  # fmt: skip
        return checks

    async def _bwrap_version(self) -> tuple[int, int, int] | None:
        """Ask bubblewrap for its version (clean env, no stdin, bounded time)."""
        try:
            proc = await asyncio.create_subprocess_exec(  # noqa: TID251 - sandbox/ spawns
                self._config.bwrap_path, "--version",
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL, env={"PATH": self._config.env_path},
            )  # fmt: skip
        except OSError:
            return None
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=_VERSION_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return None
        return bwrap.parse_version(out.decode("ascii", "replace"))

    async def _probe(self, *, weak: bool) -> list[Check]:
        """Run the probe snippet with planted canaries; evaluate what it saw and what it left."""
        canary_name = f"FRONTDOOR_SBX_CANARY_{_secrets.token_hex(4).upper()}"
        canary = f"canary-{_secrets.token_hex(16)}"
        planted: list[str] = []
        os.environ[canary_name] = canary
        try:
            for directory in self._config.protected_paths:
                path = _plant(directory)
                if path is not None:
                    planted.append(path)
            limits = self._config.default_limits.with_overrides(wall_seconds=_PROBE_LIMITS_WALL)
            spec = RunSpec(
                run_id=f"selftest-{_secrets.token_hex(4)}", python=selftest.PROBE,
                args=selftest.probe_args(canary=canary, files=planted, weak=weak),
                limits=limits, requested_by="sandbox:selftest", tool="selftest",
            )  # fmt: skip
            try:
                outcome, handle = await self._execute(spec, weak=weak)
            except (OSError, SandboxUnavailable) as exc:
                return [Check(name="start", passed=False, detail=f"sandbox failed to start: {exc}")]
        finally:
            os.environ.pop(canary_name, None)
            for path in planted:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        checks = _probe_checks(outcome, handle, limits, weak=weak)
        if all(c.passed for c in checks):
            checks.append(await self._argv_probe(limits, weak=weak))
        return checks

    async def _argv_probe(self, limits: Limits, *, weak: bool) -> Check:
        """Run a plain command and check the rlimits it gets (commands use prlimit)."""
        spec = RunSpec(run_id=f"selftest-argv-{_secrets.token_hex(4)}", argv=selftest.ARGV_PROBE,
                       limits=limits, requested_by="sandbox:selftest", tool="selftest")  # fmt: skip
        try:
            outcome, _ = await self._execute(spec, weak=weak)
        except (OSError, SandboxUnavailable) as exc:
            return Check(name="rlimits_argv", passed=False, detail=f"failed to start: {exc}")
        return selftest.evaluate_argv_limits(outcome.stdout.decode("ascii", "replace"), limits)

    # -- runs ----------------------------------------------------------------------------------

    async def run(self, spec: RunSpec) -> RunResult:
        """Run one request; raises ``SandboxUnavailable`` unless isolation is proven."""
        if self._report is None:
            async with self._first_selftest:
                if self._report is None:
                    await self.selftest()
        if self._reason is not None:
            raise SandboxUnavailable(self._reason)
        try:
            outcome, _ = await self._execute(spec, weak=self._weak)
        except OSError as exc:
            self._reason = f"sandbox failed to start: {type(exc).__name__} errno {exc.errno}"
            raise SandboxUnavailable(self._reason) from None
        return RunResult(
            exit_code=outcome.exit_code,
            timed_out=outcome.killed_reason == "timeout",
            killed_reason=outcome.killed_reason,
            stdout=outcome.stdout.decode("utf-8", "replace"),
            stderr=outcome.stderr.decode("utf-8", "replace"),
            truncated=outcome.truncated,
            duration_ms=outcome.duration_ms,
            cpu_seconds=outcome.cpu_seconds,
            secret_values=tuple(v for v in spec.secrets.values() if v),
        )

    def live_runs(self) -> list[LiveRun]:
        """Every run currently executing, oldest first."""
        return [
            LiveRun(run_id=h.run_id, requested_by=h.requested_by, tool=h.tool,
                    started_at=h.started_at, pid=h.pid)
            for h in sorted(self._runs.values(), key=lambda h: h.started_at)
        ]  # fmt: skip

    async def kill(self, run_id: str) -> bool:
        """Kill a live run by id; False when no such run is live."""
        handle = self._runs.get(run_id)
        if handle is None:
            return False
        handle.kill("killed")
        return True

    async def _execute(self, spec: RunSpec, *, weak: bool) -> tuple[RunOutcome, RunHandle]:
        """Acquire a slot, register the run, build the spawn request for the mode, supervise it."""
        identity = run_identity(self._config)
        if identity is None:
            raise SandboxUnavailable("euid is 0 and no sandbox uid is configured")
        if spec.run_id in self._runs:
            raise InvalidRunSpec("run_id", "a run with this id is already live")
        limits = spec.limits or self._config.default_limits
        async with self._slots:
            if spec.run_id in self._runs:
                raise InvalidRunSpec("run_id", "a run with this id is already live")
            handle = RunHandle(run_id=spec.run_id, requested_by=spec.requested_by, tool=spec.tool,
                               namespaced=not weak)  # fmt: skip
            self._runs[spec.run_id] = handle
            try:
                if weak:
                    outcome = await self._execute_weak(spec, limits, identity, handle)
                else:
                    outcome = await self._execute_strong(spec, limits, identity, handle)
            finally:
                del self._runs[spec.run_id]
        return outcome, handle

    async def _execute_strong(
        self, spec: RunSpec, limits: Limits, identity: Identity, handle: RunHandle
    ) -> RunOutcome:
        """Bubblewrap with the allowlist layout, seccomp, in-sandbox prlimit."""
        cfg = self._config
        opened: list[int] = []
        try:
            opened.append(seccomp.bpf_fd())
            opened.append(bwrap.data_fd("sandbox-passwd", passwd_data(identity)))
            opened.append(bwrap.data_fd("sandbox-group", group_data(identity)))
            info_r, info_w = os.pipe2(os.O_CLOEXEC)
            opened.append(info_w)
            snippet_fd = None
            if spec.python is not None:
                snippet_fd = bwrap.data_fd("sandbox-snippet", spec.python.encode())
                opened.append(snippet_fd)
        except BaseException:
            for fd in opened:
                os.close(fd)
            raise
        fds = bwrap.SpawnFds(seccomp=opened[0], passwd=opened[1], group=opened[2], info=info_w,
                             snippet=snippet_fd)  # fmt: skip
        inner = (
            list(spec.argv) if spec.python is None
            else python_argv(
                cfg.python_path, bwrap.SNIPPET_PATH, spec.allowed_modules, spec.args, limits
            )
        )  # fmt: skip
        request = SpawnRequest(
            argv=bwrap.bwrap_argv(cfg.bwrap_path, limits, fds, inner,
                                  extra_ro_binds=cfg.extra_ro_binds,
                                  prlimit=spec.python is None),
            env=run_env(cfg, spec.secrets, home=WORKSPACE), cwd="/", pass_fds=fds.all(),
            info_fd=info_r, identity=identity, limits=limits, stdin=spec.stdin,
            first_poll=cfg.watchdog_first_poll, poll_interval=cfg.watchdog_interval,
        )  # fmt: skip
        return await supervise(request, handle)

    async def _execute_weak(
        self, spec: RunSpec, limits: Limits, identity: Identity, handle: RunHandle
    ) -> RunOutcome:
        """Weak mode: prlimit directly, clean env, new session, a private temp dir as cwd."""
        cfg = self._config
        workdir = tempfile.mkdtemp(prefix="frontdoor-sbx-")
        try:
            if identity.switch:
                os.chown(workdir, identity.uid, identity.gid)
            inner = [*limits.prlimit_argv(), *spec.argv]
            if spec.python is not None:
                path = os.path.join(workdir, ".snippet.py")
                _write_new(path, spec.python.encode())
                if identity.switch:
                    os.chown(path, identity.uid, identity.gid)
                inner = python_argv(cfg.python_path, path, spec.allowed_modules, spec.args, limits)
            request = SpawnRequest(
                argv=inner, env=run_env(cfg, spec.secrets, home=workdir),
                cwd=workdir, pass_fds=(), info_fd=None, identity=identity, limits=limits,
                stdin=spec.stdin, first_poll=cfg.watchdog_first_poll,
                poll_interval=cfg.watchdog_interval,
            )  # fmt: skip
            return await supervise(request, handle)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _exists(name: str, path: str) -> Check:
    """An executable must exist at ``path``."""
    ok = os.path.isabs(path) and os.access(path, os.X_OK)
    return Check(name=name, passed=ok, detail=f"{path} {'found' if ok else 'missing'}")


def _plant(protected: str) -> str | None:
    """Write a fresh 0600 canary file into ``protected`` (or next to it when it is a file)."""
    directory = protected if os.path.isdir(protected) else os.path.dirname(protected)
    if not os.path.isdir(directory):
        return None
    path = os.path.join(directory, f".sandbox-canary-{_secrets.token_hex(8)}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, _secrets.token_hex(16).encode())
    finally:
        os.close(fd)
    return path


def _probe_checks(
    outcome: RunOutcome, handle: RunHandle, limits: Limits, *, weak: bool
) -> list[Check]:
    """Checks from the probe's exit, its JSON facts, and a scan for anything it left behind."""
    if outcome.exit_code != 0 or outcome.killed_reason is not None:
        first = outcome.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        detail = f"probe exit {outcome.exit_code} ({outcome.killed_reason}): {''.join(first)[:160]}"
        return [Check(name="start", passed=False, detail=f"sandbox failed to start: {detail}")]
    try:
        facts = json.loads(outcome.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [Check(name="probe_output", passed=False, detail="probe printed no JSON")]
    checks = [Check(name="start", passed=True, detail="probe ran")]
    checks += selftest.evaluate(facts, limits=limits, weak=weak, root_bot=os.geteuid() == 0)
    if weak:
        left = procscan.session_members(handle.pid) if handle.pid else []
    elif handle.ns_inode is None:
        return [
            *checks,
            Check(name="teardown", passed=False, detail="no namespace info from bwrap"),
        ]
    else:
        left = procscan.namespace_members(handle.ns_inode)
    checks.append(Check(name="teardown", passed=not left, detail=f"{len(left)} processes left"))
    return checks


def _write_new(path: str, data: bytes) -> None:
    """Create ``path`` exclusively (no symlink following) and write ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
