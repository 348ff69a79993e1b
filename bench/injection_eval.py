"""Recall and false-positive rate of the injection scanner on bench/data/injection.

Usage: python bench/injection_eval.py [--split test|dev|all] [--misses N] [--fps N]
Prints markdown tables: recall per attack family and per source (flagged = level
MEDIUM or above, and HIGH or above), false-positive rate per language and per
source of the benign set. The test split holds sources never used for tuning.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy.injection import Scanner, ThreatLevel

DATA = Path(__file__).resolve().parent / "data" / "injection"


def load(name: str, split: str) -> list[dict[str, str]]:
    """Load one jsonl file, keeping the rows of the split."""
    rows = [json.loads(line) for line in (DATA / f"{name}.jsonl").open(encoding="utf-8")]
    return [r for r in rows if split == "all" or r["split"] == split]


def table(title: str, groups: dict[str, list[ThreatLevel]], attack: bool) -> None:
    """Print one markdown table of flag rates per group."""
    head = "recall" if attack else "false positives"
    print(f"\n### {title}\n\n| group | n | {head} >=MEDIUM | {head} >=HIGH |\n|---|---:|---:|---:|")
    total: list[ThreatLevel] = []
    for name in sorted(groups):
        lv = groups[name]
        total += lv
        med = sum(1 for x in lv if x >= ThreatLevel.MEDIUM) / len(lv)
        high = sum(1 for x in lv if x >= ThreatLevel.HIGH) / len(lv)
        print(f"| {name} | {len(lv)} | {med:.1%} | {high:.1%} |")
    med = sum(1 for x in total if x >= ThreatLevel.MEDIUM) / max(1, len(total))
    high = sum(1 for x in total if x >= ThreatLevel.HIGH) / max(1, len(total))
    print(f"| **all** | {len(total)} | {med:.1%} | {high:.1%} |")


def main() -> None:
    """Scan the evaluation set and print the tables."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="test", choices=["test", "dev", "all"])
    ap.add_argument("--misses", type=int, default=0, help="print N missed attacks")
    ap.add_argument("--fps", type=int, default=0, help="print N flagged benign texts")
    ap.add_argument("--source", default="", help="only print misses/fps of this source")
    args = ap.parse_args()
    scanner = Scanner()
    attacks, benign = load("attacks", args.split), load("benign", args.split)
    fam: dict[str, list[ThreatLevel]] = defaultdict(list)
    src: dict[str, list[ThreatLevel]] = defaultdict(list)
    misses, fps = [], []
    for row in attacks:
        v = scanner.scan(row["text"])
        fam[row.get("family", "?")].append(v.level)
        src[row["source"]].append(v.level)
        if v.level < ThreatLevel.MEDIUM and row["source"].startswith(args.source):
            misses.append((row["source"], v.score, row["text"]))
    lang: dict[str, list[ThreatLevel]] = defaultdict(list)
    bsrc: dict[str, list[ThreatLevel]] = defaultdict(list)
    for row in benign:
        v = scanner.scan(row["text"])
        lang[row.get("lang", "?")].append(v.level)
        bsrc[row["source"]].append(v.level)
        if v.level >= ThreatLevel.MEDIUM and row["source"].startswith(args.source):
            fps.append((row["source"], v.rules, row["text"]))
    print(f"## Injection scanner, split={args.split}")
    table("Attack recall by family", fam, attack=True)
    table("Attack recall by source", src, attack=True)
    table("Benign false positives by language", lang, attack=False)
    table("Benign false positives by source", bsrc, attack=False)
    for s, score, text in misses[: args.misses]:
        print("MISS", s, score, repr(text[:300]))
    for s, rules, text in fps[: args.fps]:
        print("FP", s, rules, repr(text[:200]))


if __name__ == "__main__":
    main()
