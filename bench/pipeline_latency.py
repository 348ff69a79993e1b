"""Pipeline overhead per message and sustained throughput, with auditing on, sandbox time excluded.

The whole bot runs in-process on a real SQLite file (WAL, hash-chained audit) with
the real detectors, on a fake chat platform. The sandbox is replaced by one that
answers at once, so the figures are the front door's own cost:

- latency: one message at a time, p50/p99, for `/whoami` (stops at the command
  stage) and `/run hello` (every stage, through execute);
- throughput: many users sending `/run hello` concurrently, messages per second.

Each figure is taken with the signed audit head log on (as the bot runs) and off,
side by side in one run (rounds alternate; the median of each is kept), so the head
log's cost is a ratio measured under the same load.

Usage: .venv/bin/python bench/pipeline_latency.py [--messages N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.app import App  # noqa: E402
from bot.config import parse_config  # noqa: E402
from sandbox import RunResult, RunSpec, SandboxConfig, SelfTestReport  # noqa: E402
from tests.fakes.chat import FakeChat  # noqa: E402


class InstantSandbox:
    """Answers every run at once: the bench measures the pipeline, not the sandbox."""

    config = SandboxConfig()
    available = True
    weak = False

    async def selftest(self) -> SelfTestReport:
        return SelfTestReport(ok=True, checks=(), reason=None)

    async def run(self, spec: RunSpec) -> RunResult:
        return RunResult(
            exit_code=0,
            timed_out=False,
            killed_reason=None,
            stdout="hello, bench!\n",
            stderr="",
            truncated=False,
            duration_ms=0.0,
            cpu_seconds=0.0,
            secret_values=tuple(spec.secrets.values()),
        )

    def live_runs(self) -> list[object]:
        return []

    async def kill(self, run_id: str) -> bool:
        return False


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _once(n: int, head_log: bool) -> dict[str, float]:
    """One bot, one set of figures; `head_log` False opens storage without the head log."""
    import bot.app as app_module

    data = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    users = [f"u{i}" for i in range(50)]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data["storage"]["path"] = str(Path(tmp) / "data" / "bench.db")
        data["rate_limits"] = {
            "per_user": {"rate": 1e9, "burst": 1_000_000},
            "max_concurrent_per_user": 1000,
            "max_concurrent": 100000,
            "runs_per_day": 10_000_000,
        }
        data["roles"]["approvers"] = [f"console:local:{u}" for u in users]  # known without pairing
        config = parse_config(data, base_dir=tmp)
        chat = FakeChat()
        real = app_module.head_log_path
        if not head_log:
            app_module.head_log_path = lambda c: None  # type: ignore[assignment,return-value]
        app = App(config, env={}, adapters=[chat], sandbox=InstantSandbox())  # type: ignore[arg-type]
        try:
            await app.start()
        finally:
            app_module.head_log_path = real
        try:
            for _ in range(200):  # warm up
                await app.handle(chat.message("u0", "/run hello"))
            for label, text in (("whoami", "/whoami"), ("run", "/run hello")):
                samples = []
                for i in range(n):
                    inbound = chat.message(users[i % len(users)], text)
                    t0 = time.perf_counter()
                    await app.handle(inbound)
                    samples.append((time.perf_counter() - t0) * 1000)
                    if i % 500 == 0:
                        chat.clear()
                out[f"{label} p50"] = _pct(samples, 0.5)
                out[f"{label} p99"] = _pct(samples, 0.99)
                out[f"{label} mean"] = statistics.mean(samples)
            chat.clear()
            batch = [chat.message(users[i % len(users)], "/run hello") for i in range(n)]
            t0 = time.perf_counter()
            for start in range(0, n, 100):
                await asyncio.gather(*(app.handle(m) for m in batch[start : start + 100]))
            out["msgs/s"] = n / (time.perf_counter() - t0)
            assert app.db is not None
            verify = await app.db.audit.verify()
            assert verify.ok, verify
            out["rows"] = verify.rows_checked
            head = app.db.audit.head_log
            out["head lines"] = (
                len(head.read_text().splitlines()) if head is not None and head.exists() else 0
            )
        finally:
            await app.stop()
    return out


async def main(n: int, rounds: int) -> None:
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for rnd in range(rounds):
        for head_log in (False, True) if rnd % 2 == 0 else (True, False):
            runs[head_log].append(await _once(n, head_log))

    def median(head_log: bool, key: str) -> float:
        return statistics.median(r[key] for r in runs[head_log])

    print(f"messages per case: {n}, rounds: {rounds} (alternating; medians)")
    print("| figure | head log off | head log on | on/off |")
    print("|---|---:|---:|---:|")
    for key in ("whoami p50", "whoami p99", "run p50", "run p99", "run mean", "msgs/s"):
        unit = "" if key == "msgs/s" else " ms"
        off, on = median(False, key), median(True, key)
        print(f"| {key}{unit} | {off:.3f} | {on:.3f} | {on / off:.2f} |")
    last = runs[True][-1]
    handled = 200 + 3 * n
    print(
        f"audit rows verified (last run): {last['rows']:.0f}; head lines: {last['head lines']:.0f}"
        f" ({last['head lines'] / handled:.2f} per message)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.rounds))
