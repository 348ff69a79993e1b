"""Stage 8: run the tool in the sandbox, once, within every limit that applies.

Before a run: the user's and the tool's concurrency, the global cap, the user's
daily budget (CPU seconds and runs), and the tool's circuit breaker. A resumed
(approved) request is decided again with the state as it is now and runs only if
this call wins the approved -> executed transition in storage (`bot/resume.py`),
so duplicate deliveries, concurrent taps and restarts never run it twice, and a
change made while it waited (ban, revoke, lockdown ...) stops it; one that does not
run is withdrawn with the reason. During a long run the requester sees its progress (one
status message, edited); `/cancel RUN` stops it. With credential profiles, an
auth failure moves on to the next profile and a profile that keeps failing is
benched. The run's own secrets are redacted from its output here (the outbox
redacts everything again on the way out).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta

from bot.config import LimitsConfig, ToolConfig
from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.resume import claim, settle
from bot.services import Services
from bot.types import Address, MessageRef, Outcome
from policy.guardrails import Breaker, BreakerRule, breaker_allows, breaker_record
from policy.ratelimit import (
    Budget,
    ConcurrencyLimits,
    budget_day_start,
    check_budget,
    check_concurrency,
)
from policy.reasons import Reason
from sandbox import Limits, RunResult, RunSpec, SandboxUnavailable

__all__ = ["Execute", "limits_for"]

MIB = 1024 * 1024

_BUSY = {
    Reason.CONCURRENCY_USER: "You already have the most runs in flight; try again when one finishes.",
    Reason.CONCURRENCY_GLOBAL: "The bot is running as much as it may at once; try again shortly.",
}


def limits_for(base: Limits, *layers: LimitsConfig, timeout: float | None = None) -> Limits:
    """The sandbox limits for a run: defaults, then config layers (sandbox, then tool)."""
    changes: dict[str, float | int] = {}
    for layer in layers:
        if layer.cpu_seconds is not None:
            changes["cpu_seconds"] = layer.cpu_seconds
        if layer.memory_mb is not None:
            changes["address_space_bytes"] = layer.memory_mb * MIB
        if layer.max_processes is not None:
            changes["max_processes"] = layer.max_processes
        if layer.file_size_mb is not None:
            changes["file_size_bytes"] = layer.file_size_mb * MIB
        if layer.open_files is not None:
            changes["open_files"] = layer.open_files
        if layer.output_bytes is not None:
            changes["output_bytes"] = layer.output_bytes
        if layer.workspace_mb is not None:
            changes["workspace_bytes"] = layer.workspace_mb * MIB
    if timeout is not None:
        changes["wall_seconds"] = timeout
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _summary(tool: str, result: RunResult) -> tuple[Reason, str]:
    seconds = result.duration_ms / 1000
    if result.timed_out:
        return Reason.RUN_TIMED_OUT, f"{tool} timed out after {seconds:.1f} s and was stopped."
    if result.killed_reason:
        why = {
            "output_limit": "it printed more than its output limit",
            "memory": "it used more memory than allowed",
            "inodes": "it created too many files",
            "cancelled": "it was cancelled",
            "killed": "it was stopped on request",
        }.get(result.killed_reason, result.killed_reason)
        return Reason.RUN_KILLED, f"{tool} was stopped: {why}."
    if result.exit_code != 0:
        return Reason.RUN_FAILED, f"{tool} failed (exit code {result.exit_code}, {seconds:.2f} s)."
    return Reason.EXECUTED, f"{tool} finished ({seconds:.2f} s)."


class Execute(StageBase):
    """Runs the request's argv (or snippet) in the sandbox."""

    name = "execute"

    def __init__(self, services: Services) -> None:
        self._s = services
        r = services.config.rate_limits
        self._concurrency = ConcurrencyLimits(
            per_user=r.max_concurrent_per_user, global_=r.max_concurrent
        )
        self._budget = Budget(
            cpu_seconds_per_day=r.cpu_seconds_per_day, runs_per_day=r.runs_per_day
        )
        b = services.config.guardrails.breaker
        self._breaker = BreakerRule(
            window=timedelta(seconds=b.window),
            min_runs=b.min_runs,
            max_failure_rate=b.max_failure_rate,
            cooldown=timedelta(seconds=b.cooldown),
        )

    async def __call__(self, request: Request) -> Continue | Stop:
        """Run the tool and stop with its (redacted) output; a resumed request that did not run is withdrawn."""
        stop = await self._call(request)
        return await settle(self._s, request, stop) if request.approval_id else stop

    async def _call(self, request: Request) -> Stop:
        s = self._s
        tool = s.tool(request.tool)
        requester = request.requester or request.actor_key
        to = request.reply_to or reply(request, "").to
        if tool is None:
            return Stop(
                reason=Reason.UNKNOWN_TOOL,
                outcomes=(Outcome(to=to, text="That tool no longer exists."),),
            )
        mine = await s.user_limits(requester)
        busy = self._busy(tool, requester, mine)
        if busy is not None:
            return Stop(reason=busy[0], outcomes=(Outcome(to=to, text=busy[1]),))
        # reserve the slots before the next await, so concurrent requests cannot all pass the check
        s.state.active[requester] += 1
        s.state.tool_active[tool.name] += 1
        try:
            return await self._execute(request, tool, requester, to, mine)
        finally:
            for counter, key in ((s.state.active, requester), (s.state.tool_active, tool.name)):
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]

    async def _execute(
        self,
        request: Request,
        tool: ToolConfig,
        requester: str,
        to: Address,
        mine: Mapping[str, float],
    ) -> Stop:
        s = self._s

        def say(text: str, code: str = "") -> Outcome:
            return Outcome(to=to, text=text, code=code)

        refused = await self._refused(tool, requester, mine)
        if refused is not None:
            reason, text = refused
            return Stop(reason=reason, outcomes=(say(text),))
        profiles = await self._profiles(tool)
        if not profiles:
            text = f"{tool.name} is misconfigured (a secret it needs is not set, or every credential is benched), "
            return Stop(
                reason=Reason.RUN_FAILED,
                outcomes=(say(text + "so it was not run. Tell an admin."),),
            )
        run_id = f"run-{secrets.token_hex(6)}"
        if request.approval_id:  # decided again with the state now, and claimed, in one step
            unclaimed = await claim(s, request, run_id)
            if unclaimed is not None:
                return unclaimed
        progress = asyncio.create_task(self._progress(tool.name, run_id, to))
        try:
            await s.db.runs.start(
                run_id=run_id,
                approval_id=int(request.approval_id) if request.approval_id else None,
                requester=requester,
                tool=tool.name,
                now=s.clock(),
            )
            outcome = await self._run(tool, request, run_id, requester, profiles)
        finally:
            progress.cancel()
        if isinstance(outcome, str):
            await s.db.runs.finish(
                run_id,
                status="refused",
                exit_code=None,
                duration_ms=0.0,
                cpu_seconds=0.0,
                now=s.clock(),
            )
            text = f"Code execution is disabled: isolation unavailable ({outcome})."
            return Stop(
                reason=Reason.SANDBOX_UNAVAILABLE, outcomes=(say(text),), detail={"run_id": run_id}
            )
        result, secret_values, alerts = outcome
        reason, summary = _summary(tool.name, result)
        now = s.clock()
        await s.db.runs.finish(
            run_id,
            status=str(reason),
            exit_code=result.exit_code,
            duration_ms=result.duration_ms,
            cpu_seconds=result.cpu_seconds,
            now=now,
        )
        day, cpu, runs = s.state.usage.get(requester, (budget_day_start(now), 0.0, 0))
        s.state.usage[requester] = (day, cpu + result.cpu_seconds, runs + 1)
        alerts += await self._record_breaker(tool.name, failed=reason is not Reason.EXECUTED)
        own = s.redactor.with_secrets(secret_values) if secret_values else s.redactor
        clean = own.redact(_output(result))
        detail = {
            "run_id": run_id,
            "exit_code": result.exit_code,
            "duration_ms": round(result.duration_ms, 1),
            "cpu_seconds": round(result.cpu_seconds, 3),
            "killed_reason": result.killed_reason,
            "truncated": result.truncated,
            "redactions": dict(clean.counts),
        }
        code = clean.text.strip() or "(no output)"
        return Stop(
            reason=reason,
            decision="allow",
            outcomes=(say(summary, code=code), *alerts),
            detail=detail,
        )

    def _busy(
        self, tool: ToolConfig, requester: str, mine: Mapping[str, float]
    ) -> tuple[Reason, str] | None:
        """The concurrency checks: the user's, the tool's and the global cap (no awaits: see the caller)."""
        s = self._s
        limits = self._concurrency
        if "concurrency" in mine:
            limits = dataclasses.replace(limits, per_user=int(mine["concurrency"]))
        busy = check_concurrency(
            user_active=s.state.active[requester], global_active=s.state.active_total, limits=limits
        )
        if busy is not Reason.OK:
            return busy, _BUSY[busy]
        if (
            tool.max_concurrent is not None
            and s.state.tool_active[tool.name] >= tool.max_concurrent
        ):
            return (
                Reason.CONCURRENCY_GLOBAL,
                f"{tool.name} is already running as often as it may; try again shortly.",
            )
        return None

    async def _refused(
        self, tool: ToolConfig, requester: str, mine: Mapping[str, float]
    ) -> tuple[Reason, str] | None:
        """Why this run may not start now (breaker, budget), or None."""
        s = self._s
        now = s.clock()
        if not breaker_allows(s.state.breakers.get(tool.name, Breaker()), now):
            return (
                Reason.TOOL_PAUSED,
                f"{tool.name} is paused after repeated failures; the admins were told.",
            )
        day = budget_day_start(now)
        usage = s.state.usage.get(requester)
        if usage is None or usage[0] != day:  # read from storage once a day, then kept here
            cpu = await s.db.runs.cpu_seconds_since(requester, day)
            usage = (day, cpu, await s.db.runs.count_since(requester, day))
            s.state.usage[requester] = usage
        budget = self._budget
        if "cpu" in mine or "runs" in mine:
            budget = Budget(
                cpu_seconds_per_day=mine.get("cpu", budget.cpu_seconds_per_day),
                runs_per_day=int(mine.get("runs", budget.runs_per_day)),
            )
        if check_budget(used_cpu=usage[1], used_runs=usage[2], budget=budget) is not Reason.OK:
            return (
                Reason.BUDGET_EXHAUSTED,
                "You have used today's run budget; it resets at midnight UTC.",
            )
        return None

    async def _profiles(self, tool: ToolConfig) -> list[tuple[int, dict[str, str]]]:
        """The secret sets to try, in order: one per usable credential profile (or just `secrets`)."""
        env = self._s.env
        base = {name: env.get(name, "") for name in tool.secrets}
        if not all(base.values()):
            return []
        if not tool.credentials:
            return [(0, base)]
        benched = set((await self._s.benched()).get(tool.name, []))
        out = []
        for index, profile in enumerate(tool.credentials):
            values = {name: env.get(name, "") for name in profile}
            if index not in benched and all(values.values()):
                out.append((index, {**base, **values}))
        return out

    async def _run(
        self,
        tool: ToolConfig,
        request: Request,
        run_id: str,
        requester: str,
        profiles: list[tuple[int, dict[str, str]]],
    ) -> tuple[RunResult, dict[str, str], tuple[Outcome, ...]] | str:
        """Run once per profile until one is not refused for its credentials; a string is why it could not run."""
        s = self._s
        alerts: tuple[Outcome, ...] = ()
        result: RunResult | None = None
        used: dict[str, str] = {}
        for attempt, (index, values) in enumerate(profiles):
            spec = self._spec(
                tool, request, run_id if attempt == 0 else f"{run_id}.{attempt}", requester, values
            )
            try:
                result = await s.sandbox.run(spec)
            except SandboxUnavailable as e:
                return e.reason
            used = {**used, **values}
            code = tool.auth_failure_exit_code
            if code is None or result.exit_code != code or result.killed_reason:
                s.state.credential_failures.pop((tool.name, index), None)
                break
            alerts += await self._credential_failed(tool, index)
        assert result is not None
        return result, used, alerts

    async def _credential_failed(self, tool: ToolConfig, index: int) -> tuple[Outcome, ...]:
        s = self._s
        key = (tool.name, index)
        s.state.credential_failures[key] += 1
        if s.state.credential_failures[key] < s.config.guardrails.credential_failures:
            return ()
        del s.state.credential_failures[key]
        benched = await s.benched()
        benched = {**benched, tool.name: sorted({*benched.get(tool.name, []), index})}
        await s.db.settings.set("benched", benched, by="guardrails", now=s.clock())
        s.invalidate()
        return await s.to_admins(
            f"Credential profile {index + 1} of {tool.name} was refused {s.config.guardrails.credential_failures} "
            "times in a row and is benched; fix it, then clear it with /unbench "
            f"{tool.name} {index + 1}."
        )

    async def _record_breaker(self, tool: str, *, failed: bool) -> tuple[Outcome, ...]:
        s = self._s
        breaker, tripped = breaker_record(
            s.state.breakers.get(tool, Breaker()), self._breaker, s.clock(), failed=failed
        )
        s.state.breakers[tool] = breaker
        if not tripped:
            return ()
        minutes = round(self._breaker.cooldown.total_seconds() / 60)
        return await s.to_admins(
            f"{tool} is paused for {minutes} min: too many of its recent runs failed or timed out."
        )

    async def _progress(self, tool: str, run_id: str, to: Address) -> None:
        """While the run lasts, one status message edited with the elapsed time."""
        interval = self._s.config.guardrails.progress_interval
        started = time.monotonic()
        ref: MessageRef | None = None
        while True:
            await asyncio.sleep(interval)
            elapsed = round(time.monotonic() - started)
            text = f"{tool} is running ({elapsed} s). Stop it with /cancel {run_id}."
            refs = await self._s.outbox.deliver(
                (Outcome(to=to, text=text, edit=ref),), event_id=f"progress:{run_id}"
            )
            ref = ref or refs[0]

    def _spec(
        self,
        tool: ToolConfig,
        request: Request,
        run_id: str,
        requester: str,
        secret_values: Mapping[str, str],
    ) -> RunSpec:
        s = self._s
        limits = limits_for(
            s.sandbox.config.default_limits,
            s.config.sandbox.limits,
            tool.limits,
            timeout=tool.timeout,
        )
        if tool.kind == "python":
            return RunSpec(
                run_id=run_id,
                python=tool.code,
                args=request.argv,
                allowed_modules=tool.allowed_modules,
                secrets=secret_values,
                limits=limits,
                requested_by=requester,
                tool=tool.name,
            )
        return RunSpec(
            run_id=run_id,
            argv=request.argv,
            secrets=secret_values,
            limits=limits,
            requested_by=requester,
            tool=tool.name,
        )


def _output(result: RunResult) -> str:
    output = result.stdout
    if result.stderr.strip():
        output = (
            f"{output.rstrip()}\n--- stderr ---\n{result.stderr}"
            if output.strip()
            else result.stderr
        )
    if result.truncated:
        output = output.rstrip() + "\n[output truncated: the tool printed more than its limit]"
    return output
