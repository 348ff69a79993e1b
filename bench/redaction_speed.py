"""Redaction throughput on generated mixed log output, and p50 latency per short line.

Usage: python bench/redaction_speed.py [--mb 4] [--seed 7] [--repeats 5] [--lines 5000]
Other processes share the machine, so CPU-time figures and the load average are printed too.
The log mixes timestamps, levels, HTTP access lines, UUIDs, SHAs, paths, JSON, stack traces,
and (about one line in fifty) a token, password assignment, e-mail, phone or card number.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policy.redaction import Redactor  # noqa: E402


def _rand(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _ordinary(rng: random.Random, i: int) -> str:
    ts = f"2026-11-22T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z"
    uuid = f"{_rand(rng, 8, '0123456789abcdef')}-{_rand(rng, 4, '0123456789abcdef')}-4{_rand(rng, 3, '0123456789abcdef')}-a{_rand(rng, 3, '0123456789abcdef')}-{_rand(rng, 12, '0123456789abcdef')}"
    choices = [
        f"{ts} INFO  api.request method=GET path=/v1/orders/{rng.randrange(10**6)} status=200 duration_ms={rng.randrange(900)} request_id={uuid}",
        f"{ts} DEBUG worker.job job=resize-{i} attempt={rng.randrange(5)} queue=default took={rng.random():.3f}s",
        f'10.0.{rng.randrange(255)}.{rng.randrange(255)} - - [22/Nov/2026:10:{rng.randrange(60):02d}:01 +0000] "GET /static/app.{_rand(rng, 8, "0123456789abcdef")}.js HTTP/1.1" 200 {rng.randrange(99999)}',
        f"{ts} WARN  db.pool connections={rng.randrange(50)}/50 wait_ms={rng.randrange(300)} host=db-primary.internal:5432",
        f"{ts} INFO  deploy commit={_rand(rng, 40, '0123456789abcdef')} version=2.{rng.randrange(30)}.{rng.randrange(10)} image=sha256:{_rand(rng, 64, '0123456789abcdef')}",
        f'{{"ts":"{ts}","level":"info","msg":"order placed","order_id":"ORD-2026-{rng.randrange(10**6):06d}","amount":"{rng.randrange(999)}.{rng.randrange(99):02d}","currency":"EUR"}}',
        f'  File "/srv/app/handlers/orders.py", line {rng.randrange(900)}, in create_order',
        f"{ts} ERROR billing.charge failed: timeout after 30s (retry {rng.randrange(3)}/3) key=orders/{uuid}",
        f"{ts} INFO  disk /dev/sda1 used={rng.randrange(100)}% free={rng.randrange(500)}G inode_use=12%",
    ]
    return rng.choice(choices)


def _sensitive(rng: random.Random) -> str:
    choices = [
        f"export GITHUB_TOKEN=ghp_{_rand(rng, 36)}",
        f"connecting with password={_rand(rng, 14)} to db",
        f"Authorization: Bearer {_rand(rng, 40)}",
        f"contact: jane.doe{rng.randrange(99)}@example.org phone +44 20 7946 {rng.randrange(1000, 9999)}",
        "card 4111 1111 1111 1111 exp 12/29",
        f"aws_access_key_id=AKIA{_rand(rng, 16, string.ascii_uppercase + '234567')}",
        f"slack token xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-{_rand(rng, 24)}",
        f"client connected from 203.0.113.{rng.randrange(255)}",
    ]
    return rng.choice(choices)


def generate(mb: float, seed: int) -> list[str]:
    """Realistic log lines totalling about `mb` megabytes."""
    rng = random.Random(seed)
    lines: list[str] = []
    size = 0
    i = 0
    while size < mb * 1_000_000:
        line = _sensitive(rng) if rng.random() < 0.02 else _ordinary(rng, i)
        lines.append(line)
        size += len(line) + 1
        i += 1
    return lines


_KNOWN = {
    "SLACK_BOT_TOKEN": "xoxb-000000000001-kn0wnS3cr3tV4lue",
    "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
    "TELEGRAM_BOT_TOKEN": "7012345678:AAH3kLm9QwErTy-UiOp1AsDfGhJkLzXcVbN",
    "FRONTDOOR_DATA_KEY": "q1w2e3r4t5y6u7i8o9p0AaSsDdFfGgHhJjKk",
    "TELEGRAM_WEBHOOK_SECRET": "wh-Secret-5b7c9d1e3f",
}
"""Made-up values shaped like the secrets the bot is given (the first one is the default)."""


def _blob_runs(
    redactor: Redactor, blob: str, repeats: int
) -> tuple[list[float], list[float], dict[str, int]]:
    """Wall and CPU seconds of `repeats` redactions of the whole blob, and findings by kind."""
    wall: list[float] = []
    cpu: list[float] = []
    found: dict[str, int] = {}
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = redactor.redact(blob)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        found = dict(result.counts)
    return wall, cpu, found


def _line_latency(redactor: Redactor, lines: list[str]) -> tuple[list[float], float]:
    """Wall microseconds per line, and mean CPU microseconds per line over all of them."""
    lat: list[float] = []
    c0 = time.process_time()
    for line in lines:
        t0 = time.perf_counter()
        redactor.redact(line)
        lat.append((time.perf_counter() - t0) * 1e6)
    return sorted(lat), (time.process_time() - c0) * 1e6 / len(lines)


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lines", type=int, default=5000, help="short lines timed one by one")
    parser.add_argument("--known", type=int, default=1, help="known secret values (1 to 5)")
    args = parser.parse_args()
    lines = generate(args.mb, args.seed)
    blob = "\n".join(lines)
    redactor = Redactor(known_secrets=dict(list(_KNOWN.items())[: max(0, args.known)]))
    redactor.redact(blob[:10000])
    load = os.getloadavg()
    wall, cpu, found = _blob_runs(redactor, blob, args.repeats)
    mb = len(blob.encode()) / 1_000_000
    short = [line for line in lines[: args.lines * 2] if len(line) <= 200][: args.lines]
    _line_latency(redactor, short[:500])
    lat, cpu_line = _line_latency(redactor, short)
    med = statistics.median
    print("| metric | value |\n|---|---|")
    print(
        f"| input | {mb:.2f} MB, {len(lines)} lines, {sum(found.values())} findings, "
        f"{max(0, min(args.known, len(_KNOWN)))} known secrets |"
    )
    print(
        f"| load average (1/5/15 min), CPUs | {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} |"
    )
    print(
        f"| throughput by wall time, median (best) of {args.repeats} | {mb / med(wall):.1f} ({mb / min(wall):.1f}) MB/s |"
    )
    print(
        f"| throughput by CPU time, median (best) of {args.repeats} | {mb / med(cpu):.1f} ({mb / min(cpu):.1f}) MB/s |"
    )
    print(
        f"| short lines (<= 200 chars, {len(short)}): wall p50 / p99 | {lat[len(lat) // 2]:.1f} / {lat[int(len(lat) * 0.99)]:.1f} µs |"
    )
    print(f"| short lines: mean CPU per line | {cpu_line:.1f} µs |")
    print(f"| findings by kind | {dict(sorted(found.items()))} |")


if __name__ == "__main__":
    main()
