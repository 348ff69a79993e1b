"""Speed of the injection scanner: p50/p99 µs on short messages and MB/s on long text, one run.

Usage: python bench/injection_speed.py [--repeats N]

Short messages are the benign and attack texts of bench/data/injection of at most 120
characters (each timed alone). Long text is measured on three inputs:

- "benign 64 KiB windows": the benign set joined and cut into 64 KiB texts, one scan each
  (multilingual chat lines, translated UI strings, code, blobs; about 18% non-ASCII);
- "mixed documents": 256 KiB documents of generated service logs, CPython stdlib source,
  English chat prose and a few attacks from the attack set, one scan each (windowed);
- "1 MiB text": the benign set repeated to 1 MiB, one scan (17 overlapping windows).

MB/s counts UTF-8 bytes and is given by wall-clock time and by this process's CPU time;
each figure is the median of the repeats. Other processes share the machine, so the
load average is printed before and after: compare the CPU-time figures when it is high.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy.injection import Scanner

DATA = Path(__file__).resolve().parent / "data" / "injection"
STDLIB = ("argparse.py", "json/decoder.py", "logging/__init__.py", "textwrap.py", "csv.py")
SERVICES = ("api", "worker", "billing", "auth", "scheduler")


def _rows(name: str) -> list[dict[str, str]]:
    """Load one jsonl file of the evaluation data."""
    with (DATA / f"{name}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _logs(rnd: random.Random, n: int) -> str:
    """Return n lines of plausible service logs."""
    out = []
    for i in range(n):
        svc = rnd.choice(SERVICES)
        code = rnd.choice((200, 200, 200, 201, 204, 301, 404, 500, 503))
        ms = rnd.randint(1, 900)
        rid = f"{rnd.getrandbits(64):016x}"
        out.append(
            f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}.{ms:03d}Z {svc} INFO request_id={rid} "
            f"method=GET path=/v1/{svc}/items/{rnd.randint(1, 99999)} status={code} "
            f"duration_ms={ms} user=u{rnd.randint(1, 500)} ip=10.0.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        )
    return "\n".join(out)


def _documents(size: int, count: int) -> list[str]:
    """Return count documents of about size characters: logs, code, prose, a few attacks."""
    rnd = random.Random(2026)
    lib = Path(sysconfig.get_paths()["stdlib"])
    code = "\n".join((lib / p).read_text(encoding="utf-8") for p in STDLIB)
    prose = [r["text"] for r in _rows("benign") if r.get("lang") == "en"]
    attacks = [r["text"] for r in _rows("attacks") if len(r["text"]) < 400]
    docs = []
    for _ in range(count):
        parts: list[str] = []
        n = 0
        while n < size:
            kind = rnd.random()
            if kind < 0.4:
                part = _logs(rnd, 40)
            elif kind < 0.7:
                start = rnd.randrange(len(code) - 4000)
                part = code[start : start + 4000]
            elif kind < 0.98:
                part = "\n".join(rnd.choice(prose) for _ in range(30))
            else:
                part = rnd.choice(attacks)
            parts.append(part)
            n += len(part) + 1
        docs.append("\n".join(parts)[:size])
    return docs


def _throughput(scanner: Scanner, texts: list[str], repeats: int) -> tuple[float, float, float]:
    """Return the median MB/s by wall and by CPU time, and the median ms per text."""
    size = sum(len(t.encode()) for t in texts)
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for t in texts:
            scanner.scan(t)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return size / wall / 1e6, size / cpu / 1e6, wall * 1000 / len(texts)


def _short(scanner: Scanner, short: list[str], repeats: int) -> tuple[float, float]:
    """Return the median over repeats of the p50 and p99 latency in µs."""
    clock: Callable[[], int] = time.perf_counter_ns
    p50s, p99s = [], []
    for _ in range(repeats):
        times = []
        for t in short:
            t0 = clock()
            scanner.scan(t)
            times.append((clock() - t0) / 1000)
        times.sort()
        p50s.append(statistics.median(times))
        p99s.append(times[int(len(times) * 0.99)])
    return statistics.median(p50s), statistics.median(p99s)


def main() -> None:
    """Time the scanner and print one markdown table with every figure."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    load0 = os.getloadavg()
    rows = _rows("benign") + _rows("attacks")
    short = [r["text"] for r in rows if len(r["text"]) <= 120]
    benign = "\n".join(r["text"] for r in _rows("benign"))
    chunk = 65536
    windows = [benign[i : i + chunk] for i in range(0, len(benign) - chunk, chunk)]
    docs = _documents(262144, 4)
    big = (benign * (1 + 2**20 // len(benign)))[: 2**20]
    scanner = Scanner()
    for t in short[:500] + windows[:1]:
        scanner.scan(t)  # warm caches
    p50, p99 = _short(scanner, short, args.repeats)
    w_wall, w_cpu, w_ms = _throughput(scanner, windows, args.repeats)
    d_wall, d_cpu, d_ms = _throughput(scanner, docs, args.repeats)
    b_wall, b_cpu, b_ms = _throughput(scanner, [big], max(3, args.repeats // 2))
    load1 = os.getloadavg()
    print(f"cores {os.cpu_count()}, load average before {load0[0]:.2f} {load0[1]:.2f}, ", end="")
    print(f"after {load1[0]:.2f} {load1[1]:.2f}; medians of {args.repeats} repeats\n")
    print("| measure | value |\n|---|---:|")
    print(f"| short messages (<=120 chars), n | {len(short)} |")
    print(f"| short p50 | {p50:.1f} µs |")
    print(f"| short p99 | {p99:.1f} µs |")
    for name, n, wall, cpu, ms in [
        ("benign 64 KiB windows", len(windows), w_wall, w_cpu, w_ms),
        ("mixed 256 KiB documents", len(docs), d_wall, d_cpu, d_ms),
        ("1 MiB text", 1, b_wall, b_cpu, b_ms),
    ]:
        print(f"| long: {name} ({n}), wall | {wall:.1f} MB/s ({ms:.0f} ms per text) |")
        print(f"| long: {name} ({n}), CPU | {cpu:.1f} MB/s |")


if __name__ == "__main__":
    main()
