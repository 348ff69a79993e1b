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

from policy.injection.normalize import fold_pattern

__all__ = ["KEY_LEN", "Rule", "RuleSet", "key_of", "rule_table"]

KEY_LEN = 4
BEFORE = 200  # characters read before an anchor word of a rule that is not head-anchored
AFTER = 500  # and after it
MAX_PLACES = 64  # positions kept per rule and text
_META = set("[](){}.*+?|^$\\")
_WORD = re.compile(r"\w+")


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
    head: bool = False  # every match starts with one of the anchor words

    def fires(self, text: str) -> bool:
        """Return whether the rule matches text (starting at a word boundary if it must)."""
        if not self.boundary:
            return self.regex.search(text) is not None
        for m in self.regex.finditer(text):
            start = m.start()
            if start == 0 or not (text[start - 1].isalnum() or text[start - 1] == "_"):
                return True
        return False


def _split_top(body: str, sep: str = "|") -> list[str]:
    """Split a regex on sep where it is outside any group or class."""
    parts: list[str] = []
    cur: list[str] = []
    depth, in_class, escaped = 0, False, False
    for c in body:
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
        elif c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(c)
    parts.append("".join(cur))
    return parts


def _heads(pattern: str) -> tuple[str, ...] | None:
    """Return the keys of the literal words every match starts with, or None if unknown."""
    if pattern.startswith("(?:"):
        depth, end = 0, -1
        for i, c in enumerate(pattern):
            if c == "(" and (i == 0 or pattern[i - 1] != "\\"):
                depth += 1
            elif c == ")" and pattern[i - 1] != "\\":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        if end < 0 or pattern[end + 1 : end + 2] in {"?", "*", "{"}:
            return None
        alts = _split_top(pattern[3:end])
    else:
        alts = [pattern]
    keys = []
    for alt in alts:
        alt = alt.removeprefix("\\b")
        word = ""
        for c in alt:
            if c in _META or not (c.isalnum() or c == "_"):
                break
            word += c
        rest = alt[len(word) :]
        if rest[1:2] and rest[1] in "?*+{":
            return None  # the character after the word is optional: the word may run on
        if not word or (len(word) < KEY_LEN and rest[:1] in _META and rest[:2] != "\\b"):
            return None
        keys.append(key_of(word))
    return tuple(sorted(set(keys)))


def rule_table(check: str, rows: Iterable[tuple[float, str, str]], prefix: str = "") -> list[Rule]:
    """Compile (weight, anchors, regex) rows of one check into Rules named check:prefixN."""
    rules = []
    for i, (weight, anchors, raw) in enumerate(rows):
        parts = anchors.split()
        keys = tuple(sorted({key_of(fold_pattern(a)) for a in parts if not a.startswith("=")}))
        literals = tuple(a[1:] for a in parts if a.startswith("="))
        pattern = fold_pattern(raw)
        # sre skips ahead quickly only when a pattern starts with literals, not with \b.
        boundary = pattern.startswith("\\b") and len(_split_top(pattern)) == 1
        if boundary:
            pattern = pattern[2:]
        heads = _heads(pattern) if boundary and not literals else None
        rules.append(
            Rule(
                name=f"{check}:{prefix}{i}",
                check=check,
                weight=weight,
                keys=heads or keys,
                literals=literals,
                regex=re.compile(pattern),
                boundary=boundary,
                head=heads is not None,
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

    def _positions(self, text: str) -> dict[str, list[int]]:
        """Return, per anchor key found in text, where words starting with it begin."""
        where: dict[str, list[int]] = {}
        by_key = self._by_key
        for m in _WORD.finditer(text):
            key = m.group()[:KEY_LEN]
            if key in by_key:
                where.setdefault(key, []).append(m.start())
        return where

    def match_long(self, text: str) -> list[tuple[Rule, list[int]]]:
        """Return the rules that fire on a long text with where they fire (about).

        Each rule is read only near its anchors; the positions let the scanner add up
        only the signals that lie close together.
        """
        fired: list[tuple[Rule, list[int]]] = []
        for rule in [*self._always, *self._literal_rules]:
            if rule in self._always or any(x in text for x in rule.literals):
                where = [m.start() for m in rule.regex.finditer(text)][:MAX_PLACES]
                if where:
                    fired.append((rule, where))
        done = {r.name for r, _ in fired}
        starts_of: dict[str, list[int]] = {}
        rules: dict[str, Rule] = {}
        for key, starts in self._positions(text).items():
            for rule in self._by_key[key]:
                if rule.name not in done:
                    starts_of.setdefault(rule.name, []).extend(starts)
                    rules[rule.name] = rule
        for name, starts in starts_of.items():
            rule = rules[name]
            if rule.head:
                match = rule.regex.match
                where = [s for s in starts if match(text, s)][:MAX_PLACES]
            else:
                where = _places_near(rule, text, sorted(starts))
            if where:
                fired.append((rule, where))
        return fired


def _places_near(rule: Rule, text: str, starts: list[int]) -> list[int]:
    """Return the starts of the merged spans around the given positions where rule fires."""
    spans: list[tuple[int, int]] = []
    for s in starts:
        a, b = max(0, s - BEFORE), s + AFTER
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return [a for a, b in spans if rule.fires(text[a:b])][:MAX_PLACES]
