"""Regression guard on the labelled corpus of gitleaks and detect-secrets samples.

Thresholds sit just under the figures reached when they were set (see bench/redaction_corpus.py
for the per-kind table); a drop means a detector got worse.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy.redaction import Redactor

CORPUS = Path(__file__).resolve().parents[3] / "bench" / "data" / "secrets"
FILES = ("secrets_gitleaks.jsonl", "secrets_detect_secrets.jsonl")
MIN_RECALL = 0.985
MIN_LOOKALIKES_KEPT = 0.82


def _samples() -> list[dict[str, object]]:
    out = []
    for name in FILES:
        for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
            out.append(json.loads(line))
    return out


@pytest.fixture(scope="module")
def outcome() -> tuple[float, float]:
    """(recall on label-1 lines, share of label-0 lines unchanged)."""
    redactor = Redactor()
    hits = total = kept = negs = 0
    for sample in _samples():
        text = str(sample["text"])
        changed = redactor.redact_text(text) != text
        if sample["label"] == 1:
            total += 1
            hits += changed
        else:
            negs += 1
            kept += not changed
    assert total > 6000
    assert negs > 400
    return hits / total, kept / negs


def test_corpus_recall_stays_above_threshold(outcome: tuple[float, float]) -> None:
    """At least 98.5% of labelled secrets are redacted."""
    assert outcome[0] >= MIN_RECALL


def test_corpus_lookalikes_stay_untouched(outcome: tuple[float, float]) -> None:
    """At least 82% of look-alikes are left unchanged."""
    assert outcome[1] >= MIN_LOOKALIKES_KEPT
