"""Pipeline overhead per message and sustained throughput, with auditing on, sandbox time excluded.

The whole bot runs in-process on a real SQLite file (WAL, hash-chained audit) with
the real detectors, on a fake chat platform. The sandbox is replaced by one that
answers at once, so the figures are the front door's own cost:

- latency: one message at a time, p50/p99, for `/whoami` (stops at the command
  stage) and `/run hello` (every stage, through execute);
- throughput: many users sending `/run hello` concurrently, messages per second.

Usage: .venv/bin/python bench/pipeline_latency.py [--messages N]
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


async def main(n: int) -> None:
    data = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    users = [f"u{i}" for i in range(50)]
    with tempfile.TemporaryDirectory() as tmp:
        data["storage"]["path"] = str(Path(tmp) / "bench.db")
        data["rate_limits"] = {
            "per_user": {"rate": 1e9, "burst": 1_000_000},
            "max_concurrent_per_user": 1000,
            "max_concurrent": 100000,
            "runs_per_day": 10_000_000,
        }
        data["roles"]["approvers"] = [f"console:local:{u}" for u in users]  # known without pairing
        config = parse_config(data, base_dir=tmp)
        chat = FakeChat()
        app = App(config, env={}, adapters=[chat], sandbox=InstantSandbox())  # type: ignore[arg-type]
        await app.start()
        try:
            for _ in range(200):  # warm up
                await app.handle(chat.message("u0", "/run hello"))
            print(f"messages per case: {n}")
            print("| case | p50 ms | p99 ms | mean ms |")
            print("|---|---|---|---|")
            for label, text in (
                ("/whoami (to the command stage)", "/whoami"),
                ("/run hello (every stage)", "/run hello"),
            ):
                samples = []
                for i in range(n):
                    inbound = chat.message(users[i % len(users)], text)
                    t0 = time.perf_counter()
                    await app.handle(inbound)
                    samples.append((time.perf_counter() - t0) * 1000)
                    if i % 500 == 0:
                        chat.clear()
                print(
                    f"| {label} | {_pct(samples, 0.5):.3f} | {_pct(samples, 0.99):.3f} | {statistics.mean(samples):.3f} |"
                )
            chat.clear()
            batch = [chat.message(users[i % len(users)], "/run hello") for i in range(n)]
            t0 = time.perf_counter()
            for start in range(0, n, 100):
                await asyncio.gather(*(app.handle(m) for m in batch[start : start + 100]))
            elapsed = time.perf_counter() - t0
            assert app.db is not None
            verify = await app.db.audit.verify()
            print(
                f"\nthroughput, /run hello from {len(users)} users, 100 in flight: {n / elapsed:.0f} messages/s"
            )
            print(f"audit rows written and verified: {verify.rows_checked} (chain ok: {verify.ok})")
        finally:
            await app.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    asyncio.run(main(parser.parse_args().messages))
