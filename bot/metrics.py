"""Prometheus metrics and a small `/healthz` + `/metrics` HTTP server (off by default).

    metrics = Metrics()
    metrics.observe_stage("permission", "deny", "no_matching_rule", 0.4)
    server = MetricsServer(metrics, host="127.0.0.1", port=9464, health=lambda: {"ok": True})
    await server.start(); ...; await server.stop()

`Metrics` keeps its own `CollectorRegistry` (never the process-global one), so two bots
or two tests never share counters. Label values are bounded: anything that is not a
short identifier (`[A-Za-z0-9_.:-]{1,64}`) is counted as `other`, and each metric
keeps at most `max_series` label combinations (later new ones count as `other`), so a
caller passing user text by mistake cannot blow up memory or leak it into metrics.

The server answers GET/HEAD only (else 405), `/healthz` (JSON from the `health`
callback; 200 when its "ok" is true, else 503; a failing callback is 503 with no
detail) and `/metrics` (text exposition); any other path is 404, a request body over
`max_body_bytes` is 413. Every response carries nosniff, no-store, DENY framing, a
`default-src 'none'` CSP and no-referrer. Bind it to loopback unless a proxy guards it.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from storage import AuditEvent

__all__ = ["Metrics", "MetricsServer"]

log = logging.getLogger(__name__)

_LABEL = re.compile(r"[A-Za-z0-9_.:\-]{1,64}\Z")
_OTHER = "other"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_APPROVAL_OUTCOMES = {
    "approval_required": "requested",
    "approved": "approved",
    "denied_by_approver": "denied",
    "approval_expired": "expired",
    "approval_cancelled": "cancelled",
    "self_approval": "refused",
    "not_an_approver": "refused",
    "admin_approver_required": "refused",
}
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'",
    "Referrer-Policy": "no-referrer",
}

Health = Callable[[], Mapping[str, object] | Awaitable[Mapping[str, object]]]


class Metrics:
    """The bot's counters, histograms and gauges, in a registry of their own."""

    def __init__(self, *, max_series: int = 500) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._max_series = max_series
        self._series: dict[str, set[tuple[str, ...]]] = {}
        r = self.registry
        self.requests = Counter(
            "frontdoor_requests",
            "Stage decisions, by stage, decision and reason.",
            ("stage", "decision", "reason"),
            registry=r,
        )
        self.denials = Counter(
            "frontdoor_denials", "Requests denied, by reason.", ("reason",), registry=r
        )
        self.approvals = Counter(
            "frontdoor_approvals", "Approval events, by outcome.", ("outcome",), registry=r
        )
        self.runs = Counter(
            "frontdoor_runs", "Sandbox runs, by tool and result.", ("tool", "result"), registry=r
        )
        self.run_seconds = Histogram(
            "frontdoor_run_duration_seconds",
            "Wall time of sandbox runs.",
            ("tool",),
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.redactions = Counter(
            "frontdoor_redactions", "Values redacted from output, by kind.", ("kind",), registry=r
        )
        self.injection = Counter(
            "frontdoor_injection_verdicts", "Injection scanner verdicts, by level.", ("level",),
            registry=r,
        )  # fmt: skip
        self.stage_seconds = Histogram(
            "frontdoor_stage_latency_seconds",
            "Time spent in each pipeline stage.",
            ("stage",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.pipeline_seconds = Histogram(
            "frontdoor_pipeline_latency_seconds",
            "Time from an inbound event to its final decision.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.sandbox_available = Gauge(
            "frontdoor_sandbox_available", "1 when the sandbox self-test passed.", registry=r
        )
        self.live_runs = Gauge("frontdoor_live_runs", "Runs in flight.", registry=r)
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}

    def _labels(self, metric: str, *values: str) -> tuple[str, ...]:
        clean = tuple(v if _LABEL.match(v) else _OTHER for v in (str(x) for x in values))
        seen = self._series.setdefault(metric, set())
        if clean not in seen:
            if len(seen) >= self._max_series:
                return tuple(_OTHER for _ in clean)
            seen.add(clean)
        return clean

    def _child(self, metric: Counter | Histogram, name: str, *values: str) -> Any:
        """The labelled child of `metric`, looked up once per label combination."""
        key = (name, values)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*self._labels(name, *values))
            if len(self._children) < 4 * self._max_series:
                self._children[key] = child
        return child

    def observe_stage(
        self, stage: str, decision: str, reason: str, latency_ms: float, *, level: str = ""
    ) -> None:
        """Count one stage decision (denials, approval outcomes, injection levels follow)."""
        self._child(self.requests, "requests", stage, decision, reason).inc()
        self._child(self.stage_seconds, "stage_seconds", stage).observe(
            max(0.0, float(latency_ms)) / 1000.0
        )
        if decision == "deny":
            self._child(self.denials, "denials", reason).inc()
        outcome = _APPROVAL_OUTCOMES.get(str(reason))
        if outcome is not None:
            self.approvals.labels(outcome).inc()
        if level:
            self.observe_injection(level)

    def observe_audit(self, events: Iterable[AuditEvent]) -> None:
        """`observe_stage` for each audited stage decision (the injection level from detail)."""
        for e in events:
            level = e.detail.get("level", "") if e.stage == "injection" else ""
            self.observe_stage(
                e.stage, e.decision, e.reason, e.latency_ms, level=str(level) if level else ""
            )

    def observe_injection(self, level: str) -> None:
        """Count one scanner verdict by threat level (LOW, MEDIUM, HIGH, CRITICAL)."""
        self.injection.labels(*self._labels("injection", level.upper())).inc()

    def observe_approval(self, outcome: str) -> None:
        """Count an approval outcome not seen through `observe_stage` (e.g. the expiry job)."""
        self.approvals.labels(*self._labels("approvals", outcome)).inc()

    def observe_pipeline(self, latency_ms: float) -> None:
        """Time from an inbound event to its final decision."""
        self.pipeline_seconds.observe(max(0.0, float(latency_ms)) / 1000.0)

    def observe_run(self, tool: str, result: str, seconds: float) -> None:
        """Count a finished run and its duration."""
        self.runs.labels(*self._labels("runs", tool, result)).inc()
        self.run_seconds.labels(*self._labels("run_seconds", tool)).observe(
            max(0.0, float(seconds))
        )

    def observe_redactions(self, counts: Mapping[str, int]) -> None:
        """Add a redaction pass's counts by kind (zero and negative counts are ignored)."""
        for kind, n in counts.items():
            if n > 0:
                self.redactions.labels(*self._labels("redactions", kind)).inc(n)

    def set_sandbox_available(self, available: bool) -> None:
        """Whether runs can execute (the sandbox self-test passed)."""
        self.sandbox_available.set(1 if available else 0)

    def set_live_runs(self, n: int) -> None:
        """How many runs are in flight."""
        self.live_runs.set(max(0, int(n)))

    def render(self) -> bytes:
        """The text exposition of every metric."""
        return generate_latest(self.registry)


class MetricsServer:
    """`GET /healthz` and `GET /metrics` on an aiohttp server; see the module docstring."""

    def __init__(
        self,
        metrics: Metrics,
        host: str = "127.0.0.1",
        port: int = 0,
        health: Health | None = None,
        *,
        max_body_bytes: int = 1024,
    ) -> None:
        self._metrics = metrics
        self._host = host
        self._want_port = port
        self._health = health or (lambda: {"ok": True})
        self._max_body = max_body_bytes
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port=0); RuntimeError before start()."""
        if self._port is None:
            raise RuntimeError("MetricsServer is not started")
        return self._port

    async def start(self) -> None:
        """Bind and serve (RuntimeError if already serving)."""
        if self._runner is not None:
            raise RuntimeError("MetricsServer is already started")
        app = web.Application(client_max_size=self._max_body)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_response_prepare.append(_secure_headers)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._want_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > self._max_body:
            return _text(413, "request body too large\n")
        if request.can_read_body:
            body = await request.content.read(self._max_body + 1)
            if len(body) > self._max_body:
                return _text(413, "request body too large\n")
        if request.method not in ("GET", "HEAD"):
            response = _text(405, "method not allowed\n")
            response.headers["Allow"] = "GET, HEAD"
            return response
        if request.path == "/healthz":
            return await self._healthz()
        if request.path == "/metrics":
            return web.Response(
                body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )
        return _text(404, "not found\n")

    async def _healthz(self) -> web.Response:
        try:
            result: Any = self._health()
            if inspect.isawaitable(result):
                result = await result
            state = dict(result)
            state["ok"] = bool(state.get("ok", False))
            body = json.dumps(state, sort_keys=True, default=str)
        except Exception as e:  # noqa: BLE001 - a failing probe is "not ok", never a crash
            log.warning("health check failed: %s", type(e).__name__)
            state, body = {"ok": False}, json.dumps({"ok": False, "error": "health check failed"})
        return web.Response(
            status=200 if state["ok"] else 503, text=body, content_type="application/json"
        )


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in _SECURITY_HEADERS.items():
        response.headers[name] = value
