"""Detector building blocks: spans, regex rules with literal triggers, and rule sets.

A detector is a callable `(text, lowered) -> iterable of (start, end, kind)` spans; `lowered` is
`text.lower()`, computed once per window. A `Rule` names the literals (triggers) that must occur
for it to apply; a `RuleSet` finds which triggers occur (one prefix-factored regex pass over the
lowered text) and runs only those rules. Rules whose matches
start with a trigger are "anchored": tried only where `str.find` locates the trigger. Patterns
are written to start at a boundary and use bounded quantifiers, so a long run of one character
class costs one bounded attempt, not one per position.
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
) -> Rule:
    """Compile a rule; with `nocase`, triggers are matched against the lowered text.

    `anchored` (detected when the pattern visibly starts with its triggers) means every match
    starts `offset` characters before a trigger occurrence.
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
    return Rule(kind, compiled, lits, nocase, group, check, left, anchored, offset)


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


def _trie(words: Iterable[str]) -> str:
    """A regex matching any of `words`, factored by common prefixes (a word ends its branch)."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:  # type: ignore[type-arg]
        if "" in node:
            return ""
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items())]
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return build(root) if root else "(?!)"


def _selected(
    word: str, by_trigger: dict[tuple[str, bool], list[int]], mid: frozenset[str]
) -> frozenset[int]:
    """Rules to run when the trigger regex matched `word`.

    The regex reports the shortest trigger at a position and resumes after it. So `word` also
    selects the longer triggers it starts, and any trigger found mid-token (`mid`: offset or
    scanned rules) that could begin inside it. Token-initial triggers need a boundary before
    them, so they cannot hide inside another trigger's letters.
    """
    chosen: set[int] = set()
    for (trigger, _), idx in by_trigger.items():
        t = trigger.lower()
        if t.startswith(word) or (
            t in mid
            and any(t.startswith(word[k:]) or word[k:].startswith(t) for k in range(1, len(word)))
        ):
            chosen.update(idx)
    return frozenset(chosen)


def _anchored(r: Rule, text: str, hay: str) -> Iterator[re.Match[str]]:
    """Matches of `r` tried only at the positions where one of its triggers occurs."""
    starts: list[int] = []
    off = r.offset
    for t in r.triggers:
        i = hay.find(t)
        while i >= 0:
            if i >= off:
                starts.append(i - off)
            i = hay.find(t, i + 1)
    if len(r.triggers) > 1:
        starts.sort()
    last_end = -1
    match = r.pattern.match
    for i in starts:
        if i < last_end:
            continue
        m = match(text, i)
        if m is not None:
            last_end = m.end()
            yield m


class RuleSet:
    """Runs a family of rules, each only when one of its trigger literals occurs."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._case = frozenset(t for r in self.rules if not r.nocase for t in r.triggers)
        self._nocase = frozenset(t for r in self.rules if r.nocase for t in r.triggers)
        by_trigger: dict[tuple[str, bool], list[int]] = {}
        for i, r in enumerate(self.rules):
            for t in r.triggers:
                by_trigger.setdefault((t, r.nocase), []).append(i)
        self._by_trigger = {k: tuple(v) for k, v in by_trigger.items()}
        self._always = tuple(i for i, r in enumerate(self.rules) if not r.triggers)
        lowered_words = {t.lower() for t in self._case} | set(self._nocase)
        self._any_rx = re.compile(_trie(lowered_words))
        mid = frozenset(
            t.lower() for r in self.rules if r.offset or not r.anchored for t in r.triggers
        )
        self._by_lowered = {w: _selected(w, by_trigger, mid) for w in lowered_words}

    def _chosen(self, lowered: str) -> set[int]:
        """Rules to run, found with one prefix-factored regex pass over the lowered text.

        Case-sensitive triggers are looked up case-insensitively here, which can only select
        more rules, never fewer.
        """
        chosen = set(self._always)
        for word in set(self._any_rx.findall(lowered)):
            chosen.update(self._by_lowered[word])
        return chosen

    @property
    def kinds(self) -> frozenset[str]:
        """Every kind this family can report."""
        return frozenset(r.kind for r in self.rules)

    def __call__(self, text: str, lowered: str) -> Iterator[Span]:
        """Yield the spans of every rule whose triggers occur in the text."""
        chosen = self._chosen(lowered)
        for i in sorted(chosen):
            r = self.rules[i]
            hay = lowered if r.nocase else text
            matches = _anchored(r, text, hay) if r.anchored else r.pattern.finditer(text)
            left = r.left
            for m in matches:
                if left is not None and m.start() and left.match(text, m.start() - 1):
                    continue
                start, end = m.span(r.group)
                if start < 0 or start == end:
                    continue
                if r.check is not None and not r.check(text[start:end]):
                    continue
                yield (start, end, r.kind)
