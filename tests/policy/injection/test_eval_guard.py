"""Regression guard over bench/data/injection: recall and false positives stay where they were.

Thresholds sit a little below what the scanner reached when this test was written
(dev split 93.5%, held-out test split 82.4% of attacks at MEDIUM or above; in-the-wild
jailbreaks 86.2%; none of 12,863 benign texts flagged).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy.injection import Scanner, ThreatLevel

DATA = Path(__file__).resolve().parents[3] / "bench" / "data" / "injection"


def _rows(name: str, split: str) -> list[dict[str, str]]:
    """Load the rows of one file and split."""
    with (DATA / f"{name}.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [r for r in rows if r["split"] == split]


@pytest.mark.parametrize(("split", "least"), [("dev", 0.92), ("test", 0.80)])
def test_attack_recall_holds(split: str, least: float) -> None:
    """At least the recorded share of attacks is flagged MEDIUM or above."""
    scanner = Scanner()
    rows = _rows("attacks", split)
    flagged = sum(1 for r in rows if scanner.scan(r["text"]).level >= ThreatLevel.MEDIUM)
    assert flagged / len(rows) >= least


@pytest.mark.parametrize("split", ["dev", "test"])
def test_benign_false_positives_stay_rare(split: str) -> None:
    """At most 0.5% of benign texts (every language) is flagged MEDIUM or above."""
    scanner = Scanner()
    rows = _rows("benign", split)
    flagged = [r["text"][:60] for r in rows if scanner.scan(r["text"]).level >= ThreatLevel.MEDIUM]
    assert len(flagged) / len(rows) <= 0.005, flagged[:5]


def test_inthewild_jailbreaks_recall_holds() -> None:
    """The held-out in-the-wild jailbreak collection keeps its recall."""
    scanner = Scanner()
    rows = [r for r in _rows("attacks", "test") if r["source"] == "inthewild"]
    flagged = sum(1 for r in rows if scanner.scan(r["text"]).level >= ThreatLevel.MEDIUM)
    assert flagged / len(rows) >= 0.84
