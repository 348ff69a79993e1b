"""Stage 8: run the tool in the sandbox, once, within the user's concurrency and budget.

A resumed (approved) request runs only if this call wins the approved -> executed
transition in storage, so duplicate deliveries, concurrent taps and restarts never
run it twice. The run's own secrets are redacted from its output here (the outbox
redacts everything again on the way out).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping

from bot.config import LimitsConfig, ToolConfig
from bot.pipeline import Continue, Request, StageBase, Stop, reply
from bot.services import Services
from bot.types import Outcome
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
            "killed": "an admin stopped it",
        }.get(result.killed_reason, result.killed_reason)
        return Reason.RUN_KILLED, f"{tool} was stopped: {why}."
    if result.exit_code != 0:
        return Reason.RUN_FAILED, f"{tool} failed (exit code {result.exit_code}, {seconds:.2f} s)."
    return Reason.EXECUTED, f"{tool} finished ({seconds:.2f} s)."


class Execute(StageBase):
    """Runs the request's argv (or snippet) in the sandbox."""

    name = "execute"
    side_effects = True

    def __init__(self, services: Services) -> None:
        self._s = services
        r = services.config.rate_limits
        self._concurrency = ConcurrencyLimits(
            per_user=r.max_concurrent_per_user, global_=r.max_concurrent
        )
        self._budget = Budget(
            cpu_seconds_per_day=r.cpu_seconds_per_day, runs_per_day=r.runs_per_day
        )

    async def __call__(self, request: Request) -> Continue | Stop:
        """Run the tool and stop with its (redacted) output."""
        s = self._s
        tool = s.tool(request.tool)
        requester = request.requester or request.actor_key
        to = request.reply_to

        def say(text: str, code: str = "") -> Outcome:
            return (
                Outcome(to=to, text=text, code=code)
                if to is not None
                else reply(request, text, code=code)
            )

        if tool is None:
            return Stop(reason=Reason.UNKNOWN_TOOL, outcomes=(say("That tool no longer exists."),))
        busy = check_concurrency(
            user_active=s.state.active[requester],
            global_active=s.state.active_total,
            limits=self._concurrency,
        )
        if busy is not Reason.OK:
            return Stop(reason=busy, outcomes=(say(_BUSY[busy]),))
        now = s.clock()
        day = budget_day_start(now)
        usage = s.state.usage.get(requester)
        if usage is None or usage[0] != day:  # read from storage once a day, then kept here
            usage = (
                day,
                await s.db.runs.cpu_seconds_since(requester, day),
                await s.db.runs.count_since(requester, day),
            )
        spent = check_budget(used_cpu=usage[1], used_runs=usage[2], budget=self._budget)
        if spent is not Reason.OK:
            return Stop(
                reason=spent,
                outcomes=(say("You have used today's run budget; it resets at midnight UTC."),),
            )
        secret_values = self._secrets(tool)
        if secret_values is None:
            text = f"{tool.name} is misconfigured (a secret it needs is not set), so it was not run. Tell an admin."
            return Stop(
                reason=Reason.RUN_FAILED, outcomes=(say(text),), detail={"error": "secret_missing"}
            )
        run_id = f"run-{secrets.token_hex(6)}"
        if request.approval_id and not await s.db.approvals.mark_executed(
            int(request.approval_id), run_id
        ):
            text = f"Request {request.approval_public_id} has already run; it was not run again."
            return Stop(reason=Reason.ALREADY_DECIDED, outcomes=(say(text),))
        spec = self._spec(tool, request, run_id, requester, secret_values)
        s.state.active[requester] += 1
        try:
            await s.db.runs.start(
                run_id=run_id,
                approval_id=int(request.approval_id) if request.approval_id else None,
                requester=requester,
                tool=tool.name,
                now=now,
            )
            try:
                result = await s.sandbox.run(spec)
            except SandboxUnavailable as e:
                await s.db.runs.finish(
                    run_id,
                    status="refused",
                    exit_code=None,
                    duration_ms=0.0,
                    cpu_seconds=0.0,
                    now=s.clock(),
                )
                text = f"Code execution is disabled: isolation unavailable ({e.reason})."
                return Stop(
                    reason=Reason.SANDBOX_UNAVAILABLE,
                    outcomes=(say(text),),
                    detail={"run_id": run_id},
                )
        finally:
            s.state.active[requester] -= 1
            if s.state.active[requester] <= 0:
                del s.state.active[requester]
        used = s.state.usage.get(requester, usage)
        s.state.usage[requester] = (day, used[1] + result.cpu_seconds, used[2] + 1)
        reason, text = _summary(tool.name, result)
        await s.db.runs.finish(
            run_id,
            status=str(reason),
            exit_code=result.exit_code,
            duration_ms=result.duration_ms,
            cpu_seconds=result.cpu_seconds,
            now=s.clock(),
        )
        output = result.stdout
        if result.stderr.strip():
            output = (
                f"{output.rstrip()}\n--- stderr ---\n{result.stderr}"
                if output.strip()
                else result.stderr
            )
        if result.truncated:
            output = output.rstrip() + "\n[output truncated: the tool printed more than its limit]"
        own = s.redactor.with_secrets(secret_values)
        clean = own.redact(output)
        detail = {
            "run_id": run_id,
            "exit_code": result.exit_code,
            "duration_ms": round(result.duration_ms, 1),
            "cpu_seconds": round(result.cpu_seconds, 3),
            "killed_reason": result.killed_reason,
            "truncated": result.truncated,
            "redactions": dict(clean.counts),
        }
        return Stop(
            reason=reason,
            decision="allow",
            outcomes=(say(text, code=clean.text.strip() or "(no output)"),),
            detail=detail,
        )

    def _secrets(self, tool: ToolConfig) -> Mapping[str, str] | None:
        values = {}
        for name in tool.secrets:
            value = self._s.env.get(name, "")
            if not value:
                return None
            values[name] = value
        return values

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
