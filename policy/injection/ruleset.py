"""Compiled detection rules with a word-prefix index, so a text runs only the rules it could match.

A rule belongs to a check family, weighs 1 (weak), 2 (medium), 4 (strong) or 7
(critical), and names anchors: words whose first four letters must occur in the
text (or, written "=literal", a substring that must occur) before its regex is
tried. The index maps each anchor key to its rules; matching a text costs one
word tokenisation, a few dict look-ups and the regexes of the rules it selects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from policy.injection.normalize import fold_pattern

__all__ = ["KEY_LEN", "Rule", "RuleSet", "key_of", "rule_table"]

KEY_LEN = 4
BEFORE = 200  # characters read before an anchor word in a long text
AFTER = 500  # and after it


def key_of(word: str) -> str:
    """Return the index key of a word: its first KEY_LEN characters."""
    return word[:KEY_LEN]


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
    for i, (weight, anchors, pattern) in enumerate(rows):
        parts = anchors.split()
        keys = tuple(sorted({key_of(fold_pattern(a)) for a in parts if not a.startswith("=")}))
        literals = tuple(a[1:] for a in parts if a.startswith("="))
        pattern = fold_pattern(pattern)
        # sre skips ahead quickly only when a pattern starts with literals, not with \b.
        boundary = pattern.startswith("\\b") and "|" not in _top_level(pattern)
        if boundary:
            pattern = pattern[2:]
        rules.append(
            Rule(
                name=f"{check}:{prefix}{i}",
                check=check,
                weight=weight,
                keys=keys,
                literals=literals,
                regex=re.compile(pattern),
                boundary=boundary,
            )
        )
    return rules


def _top_level(pattern: str) -> str:
    """Return the characters of a regex outside any group or class (to spot a top-level |)."""
    out, depth, in_class, escaped = [], 0, False, False
    for c in pattern:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)


class RuleSet:
    """Rules indexed by anchor key; `match` returns the rules a canonical text fires."""

    __slots__ = ("_always", "_by_key", "_literal_rules", "rules")

    def __init__(self, rules: Iterable[Rule]) -> None:
        """Index rules by their anchor keys; rules without anchors always run."""
        self.rules = tuple(rules)
        self._by_key: dict[str, list[Rule]] = {}
        self._literal_rules: list[Rule] = []
        self._always: list[Rule] = []
        for rule in self.rules:
            for key in rule.keys:
                self._by_key.setdefault(key, []).append(rule)
            if rule.literals:
                self._literal_rules.append(rule)
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
        for rule in self._literal_rules:
            if rule.name not in seen and any(lit in text for lit in rule.literals):
                seen.add(rule.name)
                out.append(rule)
        return out

    def match(self, keys: Iterable[str], text: str) -> list[Rule]:
        """Return the rules that fire on a canonical text whose word keys are given."""
        return [rule for rule in self.candidates(keys, text) if rule.fires(text)]

    def match_long(self, text: str, words: Iterable[re.Match[str]]) -> list[Rule]:
        """Return the rules that fire on a long text, reading each only near its anchors.

        A rule is tried on the merged spans [anchor - BEFORE, anchor + AFTER] around the
        occurrences of its anchor words, so its cost follows its anchors, not the text.
        """
        where: dict[str, list[int]] = {}
        by_key = self._by_key
        for m in words:
            key = m.group()[:KEY_LEN]
            if key in by_key:
                where.setdefault(key, []).append(m.start())
        fired = [r for r in self._always if r.fires(text)]
        fired += [
            r for r in self._literal_rules if any(x in text for x in r.literals) and r.fires(text)
        ]
        done = {r.name for r in fired}
        spans_of: dict[str, list[int]] = {}
        for key, starts in where.items():
            for rule in by_key[key]:
                spans_of.setdefault(rule.name, []).extend(starts)
        rules = {r.name: r for r in self.rules}
        for name, starts in spans_of.items():
            if name in done:
                continue
            rule = rules[name]
            starts.sort()
            lo, hi = -1, -1
            for s in starts:
                a, b = max(0, s - BEFORE), s + AFTER
                if a <= hi:
                    hi = b
                    continue
                if hi >= 0 and rule.fires(text[lo:hi]):
                    fired.append(rule)
                    break
                lo, hi = a, b
            else:
                if hi >= 0 and rule.fires(text[lo:hi]):
                    fired.append(rule)
        return fired
