"""Tests for the multi-literal trigger scan and the windowed rule runs built on it."""

from __future__ import annotations

import random
import re

import pytest

from policy.redaction.base import RuleSet, rule
from policy.redaction.engine import FORMATS
from policy.redaction.triggers import TriggerScan


def _naive(words: list[str], hay: str) -> dict[str, list[int]]:
    """Every start of every word, found one `str.find` at a time."""
    out: dict[str, list[int]] = {}
    for word in words:
        i = hay.find(word)
        while i >= 0:
            out.setdefault(word, []).append(i)
            i = hay.find(word, i + 1)
    return out


CASES = [
    ("at start and end", ["ghp_", "xox"], "ghp_x and xox"),
    ("overlapping words", ["xox", "xoxe-", "oxe"], "xoxe-1 xoxoxe-"),
    ("word inside word", ["sk-", "sk-ant-", "k_"], "sk-ant-1 sk_live_ ask-"),
    ("self overlap", ["aa", "aaa"], "aaaaa"),
    ("one character", ["|", "~"], "a|b~c||"),
    ("nothing found", ["AKIA", "token"], "plain log line without them"),
    ("punctuation", ["://", ".ey", "%7C"], "https://x.eyJ %7C%7c"),
]


@pytest.mark.parametrize(("words", "hay"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_positions_match_a_naive_search(words: list[str], hay: str) -> None:
    """The scan reports exactly the occurrences `str.find` finds, overlaps included."""
    assert TriggerScan(words).positions(hay) == _naive(words, hay)


@pytest.mark.parametrize("count", [20, 3000], ids=["short text", "long text"])
def test_random_text_with_every_format_trigger(count: int) -> None:
    """On random text salted with format triggers, the scan equals the naive search."""
    rng = random.Random(count)
    words = sorted({t for r in FORMATS.rules if not r.nocase for t in r.triggers})
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/=| \n"
    parts = []
    for _ in range(count):
        parts.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))))
        parts.append(rng.choice(words))
    hay = "".join(parts)
    assert TriggerScan(words).positions(hay) == _naive(words, hay)


def test_windowed_rule_finds_what_a_whole_text_search_finds() -> None:
    """A rule found mid-token is searched around its trigger, with the same matches."""
    rules = RuleSet([rule("demo", r"(?<![\w])[a-z]{2,12}\.acc[0-9]{4,8}(?![\w])", ".acc")])
    text = " ".join(["zz.acc1234", "x" * 50, "abc.acc99999 q.acc1", "yy.acc12345"] * 40)
    expected = [(m.start(), m.end()) for m in rules.rules[0].pattern.finditer(text)]
    found = [(s, e) for s, e, _ in rules(text, text.lower())]
    assert found == expected
    assert len(found) == 120


def test_unbounded_rule_still_searches_the_whole_text() -> None:
    """A rule without a bounded width falls back to one search of the whole text."""
    rules = RuleSet([rule("demo", r"k\.[a-z]+", "k.")])
    text = "a k." + "b" * 70000 + " k.c"
    found = [(s, e) for s, e, _ in rules(text, text)]
    assert found == [(m.start(), m.end()) for m in re.finditer(r"k\.[a-z]+", text)]
