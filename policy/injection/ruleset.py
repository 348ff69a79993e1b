"""Compiled detection rules with a word-prefix index, so a text runs only the rules it could match.

A rule belongs to a check family, weighs 1 (weak), 2 (medium), 4 (strong) or 7
(critical), and has anchors: words whose first four letters must occur in the text
(or, written "=literal", a substring that must occur) before its regex is tried.
Where a pattern starts with a group of literal words, those words become its
anchors and the rule is "head-anchored": on a long text it is tried only with
`match` at the start of each anchor occurrence; other rules search a span around
each occurrence. Either way the cost follows the anchors, not the text's length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from policy.injection.anchors import KEY_LEN, heads, key_of, lead_keys, split_top
from policy.injection.normalize import fold_pattern

__all__ = ["KEY_LEN", "Rule", "RuleSet", "key_of", "rule_table"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One detection rule: a regex over canonical text, its check, weight and anchors."""

    name: str
    check: str
    weight: float
    keys: tuple[str, ...]
    literals: tuple[str, ...]
    regex: re.Pattern[str]
    boundary: bool = False  # the pattern began with \b, checked after matching (faster)
    head: bool = False  # every match starts with a word whose key is in lead
    lead: frozenset[str] = frozenset()

    def fires(self, text: str) -> bool:
        """Return whether the rule matches text (starting at a word boundary if it must)."""
        if not self.boundary:
            return self.regex.search(text) is not None
        for m in self.regex.finditer(text):
            start = m.start()
            if start == 0 or not (text[start - 1].isalnum() or text[start - 1] == "_"):
                return True
        return False


def rule_table(check: str, rows: Iterable[tuple[float, str, str]], prefix: str = "") -> list[Rule]:
    """Compile (weight, anchors, regex) rows of one check into Rules named check:prefixN."""
    rules = []
    for i, (weight, anchors, raw) in enumerate(rows):
        parts = anchors.split()
        keys = tuple(sorted({key_of(fold_pattern(a)) for a in parts if not a.startswith("=")}))
        literals = tuple(a[1:] for a in parts if a.startswith("="))
        pattern = fold_pattern(raw)
        # sre skips ahead quickly only when a pattern starts with literals, not with \b.
        boundary = pattern.startswith("\\b") and len(split_top(pattern)) == 1
        if boundary:
            pattern = pattern[2:]
        first = heads(pattern) if boundary and not literals else None
        lead = lead_keys(pattern) if not literals else None
        rules.append(
            Rule(
                name=f"{check}:{prefix}{i}",
                check=check,
                weight=weight,
                keys=first or keys,
                literals=literals,
                regex=re.compile(pattern),
                boundary=boundary,
                head=lead is not None,
                lead=lead or frozenset(),
            )
        )
    return rules


class RuleSet:
    """Rules indexed by anchor key; `match` returns the rules a canonical text fires."""

    __slots__ = ("_always", "_by_key", "_by_literal", "_literal_rules", "rules")

    def __init__(self, rules: Iterable[Rule]) -> None:
        """Index rules by their anchor keys; rules without anchors always run."""
        self.rules = tuple(rules)
        self._by_key: dict[str, list[Rule]] = {}
        self._literal_rules: list[Rule] = []
        self._by_literal: dict[str, list[Rule]] = {}
        self._always: list[Rule] = []
        for rule in self.rules:
            for key in rule.keys:
                self._by_key.setdefault(key, []).append(rule)
            if rule.literals:
                self._literal_rules.append(rule)
            for lit in rule.literals:
                self._by_literal.setdefault(lit, []).append(rule)
            if not rule.keys and not rule.literals:
                self._always.append(rule)

    def candidates(self, keys: Iterable[str], text: str) -> list[Rule]:
        """Return the rules whose anchors occur among the keys or in the text, once each."""
        seen: set[str] = set()
        out: list[Rule] = list(self._always)
        by_key = self._by_key
        for key in keys:
            bucket = by_key.get(key)
            if bucket:
                for rule in bucket:
                    if rule.name not in seen:
                        seen.add(rule.name)
                        out.append(rule)
        for lit, rules in self._by_literal.items():
            if lit in text:
                for rule in rules:
                    if rule.name not in seen:
                        seen.add(rule.name)
                        out.append(rule)
        return out

    def match(self, keys: Iterable[str], text: str) -> list[Rule]:
        """Return the rules that fire on a canonical text whose word keys are given."""
        return [rule for rule in self.candidates(keys, text) if rule.fires(text)]
