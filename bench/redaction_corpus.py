"""Recall per kind on the labelled secret corpus, and the share of look-alikes left unchanged.

Usage: python bench/redaction_corpus.py [--corpus DIR] [--worst N] [--misses KIND]
Prints a markdown table per corpus file and overall. Default config: every PII kind on.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policy.redaction import RedactionConfig, Redactor  # noqa: E402
from policy.redaction.entropy import entropy  # noqa: E402
from policy.redaction.names import name_class  # noqa: E402

_RUN = re.compile(r"[A-Za-z0-9+/=_\-.~]{12,}")


def _residual(original: str, redacted: str) -> bool:
    """Heuristic: a random-looking run of the original (letters and digits, >= 12 chars) is
    still present verbatim after redaction, i.e. the secret part was not fully replaced."""
    for m in _RUN.finditer(original):
        run = m.group()
        mixed = any(c.isdigit() for c in run) and any(c.isalpha() for c in run)
        if mixed and entropy(run) >= 3.0 and run in redacted and name_class(run) is None:
            return True
    return False


DEFAULT_CORPUS = ROOT / "bench" / "data" / "secrets"


@dataclass
class Tally:
    """Counts for one corpus file."""

    pos: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    neg: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    missed: list[tuple[str, str]] = field(default_factory=list)
    partial: int = 0
    touched: list[tuple[str, str, str]] = field(default_factory=list)


def evaluate(path: Path, redactor: Redactor) -> Tally:
    """Run the redactor over every line of one corpus file."""
    tally = Tally()
    for line in path.read_text(encoding="utf-8").splitlines():
        sample = json.loads(line)
        text, kind, label = sample["text"], sample["kind"], sample["label"]
        out = redactor.redact_text(text)
        changed = out != text
        if label == 1:
            tally.pos[kind][1] += 1
            tally.pos[kind][0] += changed
            if not changed:
                tally.missed.append((kind, text))
            elif _residual(text, out):
                tally.partial += 1
        else:
            tally.neg[kind][1] += 1
            tally.neg[kind][0] += not changed
            if changed:
                tally.touched.append((kind, text, out))
    return tally


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


def report(name: str, tally: Tally, worst: int) -> tuple[int, int, int, int]:
    """Print the table for one file and return (hits, positives, unchanged, look-alikes)."""
    hits = sum(v[0] for v in tally.pos.values())
    total = sum(v[1] for v in tally.pos.values())
    kept = sum(v[0] for v in tally.neg.values())
    negs = sum(v[1] for v in tally.neg.values())
    kinds_ok = sum(1 for v in tally.pos.values() if v[0] * 100 >= 97 * v[1])
    print(f"\n### {name}\n")
    print("| metric | value |\n|---|---|")
    print(f"| recall (label 1 lines changed) | {hits}/{total} = {_pct(hits, total)} |")
    print(f"| look-alikes unchanged (label 0) | {kept}/{negs} = {_pct(kept, negs)} |")
    print(f"| kinds with recall >= 97% | {kinds_ok}/{len(tally.pos)} |")
    full = hits - tally.partial
    print(f"| changed lines with no random-looking run left (heuristic) | {full}/{hits} |")
    ranked = sorted(tally.pos.items(), key=lambda kv: (kv[1][0] / kv[1][1], -kv[1][1]))
    print("\nWorst kinds (recall):\n\n| kind | recall | lines |\n|---|---|---|")
    for kind, (a, b) in ranked[:worst]:
        print(f"| {kind} | {_pct(a, b)} | {a}/{b} |")
    ranked_neg = sorted(tally.neg.items(), key=lambda kv: (kv[1][0] / kv[1][1], -kv[1][1]))
    print("\nWorst kinds (look-alikes unchanged):\n\n| kind | unchanged | lines |\n|---|---|---|")
    for kind, (a, b) in ranked_neg[:worst]:
        if a < b:
            print(f"| {kind} | {_pct(a, b)} | {a}/{b} |")
    return hits, total, kept, negs


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--worst", type=int, default=15)
    parser.add_argument("--misses", default=None, help="print missed/touched lines of KIND ('all')")
    parser.add_argument("--no-pii", action="store_true", help="switch every PII kind off")
    args = parser.parse_args()
    config = RedactionConfig(pii=frozenset()) if args.no_pii else RedactionConfig()
    redactor = Redactor(config)
    totals = [0, 0, 0, 0]
    for path in sorted(args.corpus.glob("*.jsonl")):
        tally = evaluate(path, redactor)
        for i, v in enumerate(report(path.name, tally, args.worst)):
            totals[i] += v
        if args.misses:
            for kind, text in tally.missed:
                if args.misses in ("all", kind):
                    print("MISS", kind, repr(text)[:240])
            for kind, text, out in tally.touched:
                if args.misses in ("all", kind):
                    print("TOUCH", kind, repr(text)[:160], "->", repr(out)[:160])
    print("\n### overall\n")
    print(
        f"recall {totals[0]}/{totals[1]} = {_pct(totals[0], totals[1])}; "
        f"look-alikes unchanged {totals[2]}/{totals[3]} = {_pct(totals[2], totals[3])}"
    )


if __name__ == "__main__":
    main()
