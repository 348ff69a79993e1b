"""Speed of the injection scanner: p50/p99 microseconds on short messages, MB/s on long text.

Usage: python bench/injection_speed.py
Short messages are the benign and attack texts of bench/data/injection of at most
120 characters; long text is the benign set joined into 64 KiB windows (one scan
each) and one 1 MiB text (scanned in windows).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy.injection import Scanner

DATA = Path(__file__).resolve().parent / "data" / "injection"


def main() -> None:
    """Time the scanner and print a markdown table."""
    rows = []
    for name in ("benign", "attacks"):
        rows += [json.loads(line)["text"] for line in (DATA / f"{name}.jsonl").open()]
    short = [t for t in rows if len(t) <= 120]
    scanner = Scanner()
    for t in short[:500]:
        scanner.scan(t)  # warm caches
    times = []
    for _ in range(3):
        for t in short:
            t0 = time.perf_counter_ns()
            scanner.scan(t)
            times.append((time.perf_counter_ns() - t0) / 1000)
    times.sort()
    p50 = statistics.median(times)
    p99 = times[int(len(times) * 0.99)]
    benign = "\n".join(json.loads(line)["text"] for line in (DATA / "benign.jsonl").open())
    chunk = 65536
    windows = [benign[i : i + chunk] for i in range(0, len(benign) - chunk, chunk)]
    t0 = time.perf_counter()
    for w in windows:
        scanner.scan(w)
    dt = time.perf_counter() - t0
    mbs = sum(len(w.encode()) for w in windows) / dt / 1e6
    big = (benign * (1 + 2**20 // len(benign)))[: 2**20]
    t0 = time.perf_counter()
    scanner.scan(big)
    big_dt = time.perf_counter() - t0
    print("| measure | value |\n|---|---:|")
    print(f"| short messages (<=120 chars), n | {len(times)} |")
    print(f"| short p50 | {p50:.1f} µs |")
    print(f"| short p99 | {p99:.1f} µs |")
    print(f"| long text, 64 KiB windows ({len(windows)}) | {mbs:.1f} MB/s |")
    print(
        f"| 1 MiB text, one scan | {big_dt * 1000:.0f} ms ({len(big.encode()) / big_dt / 1e6:.1f} MB/s) |"
    )


if __name__ == "__main__":
    main()
