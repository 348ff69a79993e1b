"""Detector building blocks: spans, regex rules with literal triggers, and rule sets.

A detector is a callable `(text, lowered) -> iterable of (start, end, kind)` spans; `lowered` is
`text.lower()`, computed once per window. A `Rule` names the literals (triggers) that every one
of its matches contains. A `RuleSet` finds where its triggers occur (`triggers.TriggerScan`:
a few literal-first regex passes, case-sensitive triggers in the text, the others in the
lowered text) and runs only the rules whose triggers occur, and only there: an "anchored" rule
(its matches start at a trigger, or `offset` characters before one) is matched at each
occurrence; any other rule is searched in a window around each occurrence as wide as its
longest match, or over the whole text when its width is unbounded. Patterns are written to
start at a boundary and use bounded quantifiers, so a long run of one character class costs
one bounded attempt, not one per position."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from .triggers import TriggerScan

__all__ = ["Detector", "Rule", "RuleSet", "Span", "rule"]

Span = tuple[int, int, str]


Detector = Callable[[str, str], Iterable[Span]]
"""Finds spans to redact in one window: `(text, lowered) -> (start, end, kind)` spans."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One credential format: a compiled pattern, the literals that must occur, and a check.

    `left` is a one-character class the match must not follow; it replaces a leading
    look-behind. An `anchored` rule's matches always start with one of its triggers, so it is
    matched only where `str.find` locates a trigger instead of scanning the whole text.
    """

    kind: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    nocase: bool
    group: int | str = 0
    check: Callable[[str], bool] | None = None
    left: re.Pattern[str] | None = None
    anchored: bool = False
    offset: int = 0
    guard: str | None = None


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
    anchored: bool | None = None,
    offset: int = 0,
    guard: str | None = None,
) -> Rule:
    """Compile a rule; with `nocase`, triggers are matched against the lowered text.

    `anchored` (detected when the pattern visibly starts with its triggers) means every match
    starts `offset` characters before a trigger occurrence. `guard` is a regex that every match
    has right after its trigger: occurrences without it are not even reported by the trigger
    scan (worth it for triggers that are common words, such as `pat` in `path`).
    """
    flags = re.IGNORECASE if nocase else 0
    lits = tuple(t.lower() for t in triggers) if nocase else triggers
    left = None
    lead = _LEADING_LOOKBEHIND.match(regex)
    longest = max((int(b) for b in _BOUNDS.findall(regex)), default=0)
    if lead is not None and longest <= _LONG_BOUND and "*" not in regex and "+" not in regex:
        left = re.compile(lead.group(1), flags)
        regex = regex[: lead.start(1) - 4] + regex[lead.end() :]
    if anchored is None:
        anchored = (
            offset == 0 and bool(triggers) and _starts_with_triggers(regex, lead, left, triggers)
        )
    compiled = re.compile(regex, flags)
    return Rule(kind, compiled, lits, nocase, group, check, left, anchored, offset, guard)


def _starts_with_triggers(
    regex: str, lead: re.Match[str] | None, left: re.Pattern[str] | None, triggers: tuple[str, ...]
) -> bool:
    body = regex.removeprefix("(?i)")
    if lead is not None and left is None:
        body = body[lead.end() - lead.start() :]
    body = re.sub(r"\\(\W)", r"\1", body)
    head = body[3:].split(")", 1)[0] if body.startswith("(?:") else ""
    alternatives = head.split("|") if head else []
    return all(body.startswith(t) or any(a.startswith(t) for a in alternatives) for t in triggers)


def _anchored(r: Rule, text: str, occurrences: list[int]) -> Iterator[re.Match[str]]:
    """Matches of `r` tried only at the (sorted) positions where one of its triggers occurs."""
    last_end = -1
    off = r.offset
    match = r.pattern.match
    for t in occurrences:
        i = t - off
        if i < 0 or i < last_end:
            continue
        m = match(text, i)
        if m is not None:
            last_end = m.end()
            yield m


_MAX_WINDOW = 1 << 16
_MARGIN = 256
"""Characters past a windowed match's furthest end kept visible to its trailing lookarounds."""


def _width(r: Rule) -> int | None:
    """The longest match `r` can make, or None when unbounded (or too long to window)."""
    flags = r.pattern.flags & ~re.UNICODE
    hi = int(re._parser.parse(r.pattern.pattern, flags).getwidth()[1])  # type: ignore[attr-defined]
    return hi if hi <= _MAX_WINDOW else None


def _windows(starts: list[int], back: int, fwd: int, n: int) -> Iterator[tuple[int, int]]:
    """Merged `[s - back, s + fwd)` ranges around sorted positions, clipped to `[0, n)`."""
    lo = hi = -1
    for s in starts:
        a, b = max(0, s - back), min(n, s + fwd)
        if a <= hi:
            hi = max(hi, b)
            continue
        if hi > lo:
            yield lo, hi
        lo, hi = a, b
    if hi > lo:
        yield lo, hi


def _guards(rules: Sequence[Rule], nocase: bool) -> dict[str, str]:
    """The guard of each trigger that every rule using it guards in the same way."""
    seen: dict[str, set[str | None]] = {}
    for r in rules:
        if r.nocase == nocase:
            for t in r.triggers:
                seen.setdefault(t, set()).add(r.guard)
    return {t: g for t, gs in seen.items() if len(gs) == 1 for g in gs if g is not None}


class RuleSet:
    """Runs a family of rules only around the places where their trigger literals occur.

    One `TriggerScan` over the text (case-sensitive triggers) and one over the lowered text
    (the others) find every trigger occurrence. An anchored rule is matched at each occurrence;
    any other rule whose matches are bounded is searched only in a window around each
    occurrence that is wide enough to hold any match containing it, which finds exactly what
    a search of the whole text finds, since every match contains a trigger. Unbounded rules
    search the whole text, and only when a trigger occurs.
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._case = TriggerScan(
            (t for r in self.rules if not r.nocase for t in r.triggers), _guards(self.rules, False)
        )
        self.lowered_guards = _guards(self.rules, True)
        """Guards of the `lowered_triggers`, for a caller that scans for them itself."""
        self._nocase = TriggerScan(
            (t for r in self.rules if r.nocase for t in r.triggers), self.lowered_guards
        )
        self._always = tuple(i for i, r in enumerate(self.rules) if not r.triggers)
        self._widths = tuple(_width(r) for r in self.rules)
        by_trigger: dict[tuple[str, bool], list[int]] = {}
        for i, r in enumerate(self.rules):
            for t in r.triggers:
                by_trigger.setdefault((t, r.nocase), []).append(i)
        self._by_trigger = {k: tuple(v) for k, v in by_trigger.items()}

    @property
    def kinds(self) -> frozenset[str]:
        """Every kind this family can report."""
        return frozenset(r.kind for r in self.rules)

    def _matches(
        self, i: int, text: str, found: Mapping[str, list[int]]
    ) -> Iterator[re.Match[str]]:
        r = self.rules[i]
        hits = [found[t] for t in r.triggers if t in found]
        starts = sorted(p for h in hits for p in h) if len(hits) > 1 else hits[0] if hits else []
        if r.anchored:
            yield from _anchored(r, text, starts)
            return
        width = self._widths[i]
        if width is None or not starts:
            yield from r.pattern.finditer(text)
            return
        longest = max(len(t) for t in r.triggers)
        search = r.pattern.search
        last_end = 0
        for lo, hi in _windows(starts, width, longest + width + _MARGIN, len(text)):
            pos = max(lo, last_end)
            while pos <= hi:
                m = search(text, pos, hi)
                if m is None:
                    break
                yield m
                last_end = m.end()
                pos = last_end if last_end > m.start() else last_end + 1

    @property
    def lowered_triggers(self) -> tuple[str, ...]:
        """The triggers looked up in the lowered text (those of case-insensitive rules)."""
        return self._nocase.words

    def __call__(self, text: str, lowered: str) -> Iterator[Span]:
        """Yield the spans of every rule whose triggers occur in the text."""
        found_low = self._nocase.positions(lowered) if self._nocase.words else {}
        return self.run(text, found_low)

    def run(self, text: str, found_low: Mapping[str, list[int]]) -> Iterator[Span]:
        """Like calling the set, given where `lowered_triggers` occur in the lowered text (the
        caller may scan for more words in the same passes; extra words are ignored)."""
        found = self._case.positions(text)
        chosen: set[int] = set(self._always)
        by_trigger = self._by_trigger
        for t in found:
            chosen.update(by_trigger.get((t, False), ()))
        for t in found_low:
            chosen.update(by_trigger.get((t, True), ()))
        for i in sorted(chosen):
            r = self.rules[i]
            left = r.left
            for m in self._matches(i, text, found_low if r.nocase else found):
                if left is not None and m.start() and left.match(text, m.start() - 1):
                    continue
                start, end = m.span(r.group)
                if start < 0 or start == end:
                    continue
                if r.check is not None and not r.check(text[start:end]):
                    continue
                yield (start, end, r.kind)
