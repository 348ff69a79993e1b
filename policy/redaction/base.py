"""Detector building blocks: spans, regex rules with literal pre-filters, and the Detector protocol.

A detector is a callable `(text, lowered) -> iterable of (start, end, kind)` spans; `lowered` is
`text.lower()`, computed once per window so that case-insensitive pre-filters stay cheap. Every
pattern in this package starts at a boundary (a look-behind) and uses bounded quantifiers, so a
long run of any one character class costs one bounded match attempt, not one per position.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Detector", "Rule", "RuleSet", "Span", "rule"]

Span = tuple[int, int, str]


Detector = Callable[[str, str], Iterable[Span]]
"""Finds spans to redact in one window: `(text, lowered) -> (start, end, kind)` spans."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One credential format: a compiled pattern, the literals that must occur, and a check.

    `left` is a one-character class the match must not follow; it replaces a leading
    look-behind so that `re` can still scan for the pattern's literal prefix quickly.
    """

    kind: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    nocase: bool
    group: int | str = 0
    check: Callable[[str], bool] | None = None
    left: re.Pattern[str] | None = None


_LEADING_LOOKBEHIND = re.compile(r"^(?:\(\?i\))?\(\?<!(\[[^\]]*\])\)")
_BOUNDS = re.compile(r"\{\d*,(\d+)\}")
_LONG_BOUND = 500


def rule(
    kind: str,
    regex: str,
    *triggers: str,
    group: int | str = 0,
    check: Callable[[str], bool] | None = None,
    nocase: bool = False,
) -> Rule:
    """Compile a rule; with `nocase`, triggers are matched against the lowered text."""
    flags = re.IGNORECASE if nocase else 0
    lits = tuple(t.lower() for t in triggers) if nocase else triggers
    left = None
    lead = _LEADING_LOOKBEHIND.match(regex)
    longest = max((int(b) for b in _BOUNDS.findall(regex)), default=0)
    if lead is not None and longest <= _LONG_BOUND and "*" not in regex and "+" not in regex:
        left = re.compile(lead.group(1), flags)
        regex = regex[: lead.start(1) - 4] + regex[lead.end() :]
    return Rule(kind, re.compile(regex, flags), lits, nocase, group, check, left)


class RuleSet:
    """Runs a family of rules, each only when one of its trigger literals occurs."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)

    @property
    def kinds(self) -> frozenset[str]:
        """Every kind this family can report."""
        return frozenset(r.kind for r in self.rules)

    def __call__(self, text: str, lowered: str) -> Iterator[Span]:
        """Yield the spans of every rule whose triggers occur in the text."""
        for r in self.rules:
            hay = lowered if r.nocase else text
            if r.triggers and not any(t in hay for t in r.triggers):
                continue
            left = r.left
            for m in r.pattern.finditer(text):
                if left is not None and m.start() and left.match(text, m.start() - 1):
                    continue
                start, end = m.span(r.group)
                if start < 0 or start == end:
                    continue
                if r.check is not None and not r.check(text[start:end]):
                    continue
                yield (start, end, r.kind)
