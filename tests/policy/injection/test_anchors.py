"""Tests of reading a rule's regex for its lead words: exact cases and soundness on real rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policy.injection.anchors import KEY_LEN, lead_keys, line_body
from policy.injection.normalize import canonical
from policy.injection.scanner import BUILTIN

DATA = Path(__file__).resolve().parents[3] / "bench" / "data" / "injection"

LEADS = [
    ("word", r"ignore\b", {"igno"}),
    ("alternation", r"(?:ignore|disregard) all", {"igno", "disr"}),
    ("short-word-ends", r"(?:no|do) more", {"no", "do"}),
    ("optional-group", r"(?:the )?(?:above|prior) rules", {"the", "abov", "prio"}),
    ("optional-char", r"(?:send|e-?mail)\b", {"send", "e", "emai"}),
    ("optional-class", r"(?:dev|god)[ _-]?mode", {"dev", "dev_", "devm", "god", "god_", "godm"}),
    ("short-word-group", r"fai(?:s|tes) fi", {"fais", "fait"}),
    ("optional-last-letter", r"(?:ai|bot)s?,? reading", {"ai", "ais", "bot", "bots"}),
    ("short-word-space-plus", r"rm\s+-rf", {"rm"}),
    ("nested-optional", r"(?:begin|start)(?:ning)? (?:of )?new", {"begi", "star"}),
]


@pytest.mark.parametrize(("pattern", "keys"), [x[1:] for x in LEADS], ids=[x[0] for x in LEADS])
def test_lead_keys_are_read_from_the_pattern(pattern: str, keys: set[str]) -> None:
    """The lead keys are the keys of every word a match can start with."""
    assert lead_keys(pattern) == frozenset(keys)


UNSURE = [
    ("starts-with-class", r"[a-z]+ignore"),
    ("repeated-group", r"(?:ab )*ignore"),
    ("short-word-at-end", r"(?:as|be)"),
    ("short-word-runs-on", r"dan(?:\w+)"),
    ("short-word-then-letter-class", r"no[a-z]*"),
    ("lookahead", r"(?=x)ignore"),
    ("mark", r"<\|im_start\|>"),
]


@pytest.mark.parametrize("pattern", [x[1] for x in UNSURE], ids=[x[0] for x in UNSURE])
def test_lead_keys_refuse_what_they_cannot_be_sure_of(pattern: str) -> None:
    """A pattern whose matches may start elsewhere has no lead keys (searched more widely)."""
    assert lead_keys(pattern) is None


def test_line_body_reads_a_line_start() -> None:
    """A rule starting at a line start gives its body; others give None."""
    assert line_body(r"(?:^|\n)[ \t]*#{2,}") == r"[ \t]*#{2,}"
    assert line_body(r"(?:^|\n)a|b") is None
    assert line_body(r"\n[ \t]*x") is None


def _texts() -> list[str]:
    """Return canonical attack texts of the dev and test splits."""
    with (DATA / "attacks.jsonl").open(encoding="utf-8") as fh:
        return [canonical(json.loads(line)["text"])[0] for line in fh]


def test_every_builtin_match_at_a_word_starts_with_a_lead_key() -> None:
    """On every attack text, each match of a head rule that starts a word starts a lead word."""
    texts = _texts()
    word = re.compile(r"\w+")
    checked = 0
    for rule in (r for r in BUILTIN if r.head):
        for text in texts:
            for m in rule.regex.finditer(text):
                s = m.start()
                if s and (text[s - 1].isalnum() or text[s - 1] == "_"):
                    continue  # not at a word start: never tried on long text (documented)
                w = word.match(text, s)
                assert w is not None, (rule.name, text[s : s + 40])
                assert w.group()[:KEY_LEN] in rule.lead, (rule.name, w.group())
                checked += 1
    assert checked > 1000
