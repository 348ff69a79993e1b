"""Start-to-exit latency of runs under the Sandbox versus plain subprocesses, interleaved.

Usage: ``python bench/sandbox_latency.py [--runs N] [--warmup N] [--threaded-watcher]
[--uid-switch spawn|setpriv] [--compare-uid-switch] [--ballast-mb N]``. Each round runs four
configurations in a shuffled order - ``true`` and ``python3 -c 'print(1)'`` as a plain
``asyncio.create_subprocess_exec`` and under ``Sandbox.run`` (the production configuration) -
and prints p50/p99 per configuration plus the sandbox overhead at p50. Targets: overhead for
``true`` at most 8 ms p50; a Python snippet at most 22 ms p50 in total.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox import RunSpec, Sandbox, SandboxConfig, use_pidfd_child_watcher

PY = "/usr/bin/python3"


async def plain(argv: list[str]) -> None:
    """Spawn and wait for a plain subprocess with a clean env."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    await proc.communicate()
    assert proc.returncode == 0


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest-rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(
    runs: int, warmup: int, *, threaded: bool, uid_switch: str, ballast_mb: int, compare: bool
) -> None:
    """Run the interleaved benchmark and print a table."""
    if not threaded:
        use_pidfd_child_watcher()  # as the bot does at start-up (Python 3.11)
    # Touched memory makes this process the size of a real bot: fork() cost grows with it.
    ballast = bytearray(ballast_mb << 20)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1
    sb = Sandbox(SandboxConfig(uid_switch=uid_switch))
    other = "setpriv" if uid_switch == "spawn" else "spawn"
    sb_other = Sandbox(SandboxConfig(uid_switch=other))
    for box in (sb, sb_other) if compare else (sb,):
        report = await box.selftest()
        if not report.ok:
            raise SystemExit(f"sandbox unavailable: {report.reason}")
    counter = 0

    async def boxed(spec_kw: dict[str, object], box: Sandbox = sb) -> None:
        nonlocal counter
        counter += 1
        result = await box.run(RunSpec(run_id=f"bench-{counter}", **spec_kw))  # type: ignore[arg-type]
        assert result.exit_code == 0, result.stderr

    configs: dict[str, Callable[[], Awaitable[None]]] = {
        "plain true": lambda: plain(["true"]),
        "sandbox true": lambda: boxed({"argv": ("true",)}),
        "plain python3 -c print(1)": lambda: plain([PY, "-c", "print(1)"]),
        "sandbox python snippet print(1)": lambda: boxed({"python": "print(1)"}),
    }
    if compare:
        configs[f"sandbox true [{other}]"] = lambda: boxed({"argv": ("true",)}, sb_other)
        configs[f"sandbox snippet [{other}]"] = lambda: boxed({"python": "print(1)"}, sb_other)
    samples: dict[str, list[float]] = {name: [] for name in configs}
    names = list(configs)
    for i in range(warmup + runs):
        random.shuffle(names)
        for name in names:
            start = time.perf_counter()
            await configs[name]()
            if i >= warmup:
                samples[name].append((time.perf_counter() - start) * 1000.0)
    watcher = "threaded" if threaded else "pidfd"
    print(f"{runs} runs each after {warmup} warm-up rounds, interleaved (ms); {watcher} child "
          f"watcher, uid switch {uid_switch!r}, bot ballast {ballast_mb} MiB")  # fmt: skip
    print(f"{'configuration':34} {'p50':>7} {'p99':>7} {'mean':>7}")
    for name in configs:
        vals = samples[name]
        print(f"{name:34} {percentile(vals, 0.5):7.2f} {percentile(vals, 0.99):7.2f} "
              f"{statistics.fmean(vals):7.2f}")  # fmt: skip
    over_true = percentile(samples["sandbox true"], 0.5) - percentile(samples["plain true"], 0.5)
    py = percentile(samples["sandbox python snippet print(1)"], 0.5)
    print(f"sandbox overhead for true at p50: {over_true:.2f} ms (target <= 8)")
    print(f"python snippet total at p50: {py:.2f} ms (target <= 22)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threaded-watcher", action="store_true", help="keep 3.11's default")
    parser.add_argument("--uid-switch", choices=("spawn", "setpriv"), default="spawn")
    parser.add_argument("--ballast-mb", type=int, default=0, help="grow this process like a bot")
    parser.add_argument("--compare-uid-switch", action="store_true", help="also the other mode")
    opts = parser.parse_args()
    asyncio.run(
        main(
            opts.runs,
            opts.warmup,
            threaded=opts.threaded_watcher,
            uid_switch=opts.uid_switch,
            ballast_mb=opts.ballast_mb,
            compare=opts.compare_uid_switch,
        )
    )
