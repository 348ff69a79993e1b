"""Matching the rules on a long text at a cost that follows the anchors, not the length.

Each rule gets one strategy when the matcher is built:

- head: every match starts with a word whose key is in the rule's lead keys, so the
  rule is tried with `match` at those words only (most rules); the rules sharing a
  key are first tried together, as one alternation, so that a word none of them
  matches costs one call;
- scan: the regex starts with a rare mark (`<`, `[`, `#`, ...) or has no anchor words;
  it is searched over the whole text, where the regex engine skips quickly to the mark.
  A rule with anchor words is scanned only when one occurs; an alternative anchored at
  the start of the text (`^`) is tried there once. Rules that start at a line start
  (`(?:^|\n)` or `\n`) share one pass that finds the newlines where any of them may
  match, and are tried only there;
- near: anything else is searched in spans around its anchor words.

Anchor words are found in one pass over the text: words are split on non-word runs
and their keys are looked up in one set, with C-level iteration (no per-word
regex match object).
"""

from __future__ import annotations

import re
from itertools import compress
from operator import itemgetter

from policy.injection.anchors import KEY_LEN, group_end, line_body, split_top
from policy.injection.normalize import blocks
from policy.injection.ruleset import Rule

__all__ = ["LongMatcher"]

BEFORE = 200  # characters read before an anchor word of a "near" rule
AFTER = 500  # and after it
MAX_PLACES = 64  # positions kept per rule and text
_WORD = re.compile(r"\w+")
_KEY = itemgetter(slice(0, KEY_LEN))
# ASCII non-word characters to spaces; in the second table \x01 is kept, standing in
# for a non-ASCII word character.
_NON_WORD = {i: " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}
_NON_WORD_STAND_IN = {i: c for i, c in _NON_WORD.items() if i != 1}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _stand_in(m: re.Match[str]) -> str:
    """Return the ASCII stand-in of a non-ASCII character: \x01 if a word character."""
    return "\x01" if m.group().isalnum() else " "


_MARKS = set("<[#!:@=%&~*\n-{(|")


def _scannable(pattern: str) -> bool:
    """Return whether a whole-text search of pattern is cheap: it starts at a line or a mark."""
    return line_body(pattern) is not None or _mark_start(pattern)


def _mark_start(pattern: str) -> bool:
    """Return whether every match of pattern starts with a literal non-word character."""
    for alt in split_top(pattern):
        if alt.startswith("(?:"):
            end = group_end(alt)
            if end < 0 or alt[end + 1 : end + 2] in {"?", "*", "{"}:
                return False
            if not _mark_start(alt[3:end]):
                return False
            continue
        first = alt[1:2] if alt.startswith("\\") else alt[:1]
        if alt.startswith("\\") and first == "n":
            first = "\n"
        if first not in _MARKS or alt[len(first) + (alt[:1] == "\\") :][:1] in {"?", "*", "{"}:
            return False
    return True


def _first_chars(pattern: str) -> set[str]:
    """Return the characters every match of pattern may start with; empty if unsure."""
    out: set[str] = set()
    for alt in split_top(pattern):
        if alt.startswith("(?:"):
            end = group_end(alt)
            if end < 0 or alt[end + 1 : end + 2] in {"?", "*", "{"}:
                return set()
            inner = _first_chars(alt[3:end])
            if not inner:
                return set()
            out |= inner
        elif alt.startswith("\\") and alt[1:2] and not alt[1].isalnum():
            out.add(alt[1])
        elif alt[:1] and alt[0] not in "[](){}.*+?|^$\\" and not _optional_next(alt[1:]):
            out.add(alt[0])
        else:
            return set()
    return out


def _optional_next(rest: str) -> bool:
    """Return whether rest starts with a quantifier that allows zero repetitions."""
    return (
        rest[:1] in {"?", "*"}
        or (rest[:1] == "{" and not rest[1:2].isdigit())
        or (rest[:2] == "{0")
    )


class _Scan:
    """A rule searched over the whole text, with an optional start-of-text alternative."""

    __slots__ = ("at_start", "gate_keys", "gate_literals", "line", "offset", "rule", "search")

    def __init__(self, rule: Rule) -> None:
        """Split off alternatives anchored at the start; prefer newline search for line rules."""
        self.rule = rule
        pattern = rule.regex.pattern
        self.gate_literals = rule.literals
        self.gate_keys = () if rule.literals else rule.keys
        self.offset = 0
        body = line_body(pattern)
        self.at_start: re.Pattern[str] | None = None
        self.line: str | None = None  # what must follow a newline where the rule matches
        if body is not None:  # (?:^|\n)REST: REST at 0, "\nREST" elsewhere
            self.at_start = re.compile(body)
            self.search: re.Pattern[str] | None = re.compile("\n(?:" + body + ")")
            self.offset = 1
            self.line = body
            return
        if pattern.startswith("\\n") and len(split_top(pattern)) == 1:
            self.line = pattern[2:]
        alts = split_top(pattern)
        rest = [a for a in alts if not a.startswith("^")]
        if len(rest) < len(alts):
            self.at_start = rule.regex
            self.search = re.compile("|".join(rest)) if rest else None
        else:
            self.search = rule.regex

    def places(
        self,
        text: str,
        where: dict[str, list[int]],
        newlines: list[int] | None = None,
        literals: set[str] | None = None,
    ) -> list[int]:
        """Return where the rule matches text (at most MAX_PLACES), if its gate opens.

        newlines: for a line rule, the newlines after which some line rule may match;
        literals: the gate literals that occur in text, if known.
        """
        if self.gate_literals:
            if literals is not None:
                if literals.isdisjoint(self.gate_literals):
                    return []
            elif not any(x in text for x in self.gate_literals):
                return []
        elif self.gate_keys and not any(k in where for k in self.gate_keys):
            return []
        out: list[int] = []
        if self.at_start is not None and self.at_start.match(text):
            out.append(0)
        if self.search is None:
            return out
        if self.line is not None and newlines is not None:
            match = self.search.match
            out += [p + self.offset for p in newlines if match(text, p)]
            return out[:MAX_PLACES]
        boundary = self.rule.boundary
        for m in self.search.finditer(text):
            s = m.start() + self.offset
            if boundary and s and (text[s - 1].isalnum() or text[s - 1] == "_"):
                continue
            out.append(s)
            if len(out) >= MAX_PLACES:
                break
        return out


class LongMatcher:
    """The rules of a RuleSet arranged for long texts (see the module docstring)."""

    __slots__ = (
        "_any_lead",
        "_by_lead",
        "_gate_literals",
        "_line_start",
        "_lines",
        "_near",
        "_scans",
        "index",
    )

    def __init__(self, rules: tuple[Rule, ...], extra_keys: frozenset[str] = frozenset()) -> None:
        """Choose a strategy per rule and index the anchor keys the text must be read for.

        extra_keys: further keys whose positions the caller wants from `positions`.
        """
        self._scans: list[_Scan] = []
        self._by_lead: dict[str, list[Rule]] = {}
        self._near: dict[str, list[Rule]] = {}
        for rule in rules:
            if rule.head:
                for key in rule.lead:
                    self._by_lead.setdefault(key, []).append(rule)
            elif rule.literals or not rule.keys or _scannable(rule.regex.pattern):
                self._scans.append(_Scan(rule))
            else:
                for key in rule.keys:
                    self._near.setdefault(key, []).append(rule)
        # Per lead key, one regex of all its rules: most words match none of them.
        self._any_lead = {
            key: re.compile("|".join(f"(?:{r.regex.pattern})" for r in lead))
            for key, lead in self._by_lead.items()
        }
        self._gate_literals = tuple(sorted({x for s in self._scans for x in s.gate_literals}))
        # One pass finds the newlines after which any line rule may match.
        bodies = [f"(?:{s.line})" for s in self._scans if s.line is not None]
        self._lines = re.compile("\n(?=" + "|".join(bodies) + ")") if bodies else None
        # A cheaper pass first, when every body starts (after indentation) with known
        # characters: only the newlines it finds are tried with the bodies.
        firsts = [_first_chars(s.line.removeprefix("[ \\t]*")) for s in self._scans if s.line]
        self._line_start = (
            re.compile("\n[ \t]*[" + re.escape("".join(set().union(*firsts))) + "]")
            if bodies and all(firsts)
            else None
        )
        gates = {k for s in self._scans for k in s.gate_keys}
        self.index = frozenset(self._by_lead) | frozenset(self._near) | gates | extra_keys

    def positions(self, text: str) -> dict[str, list[int]]:
        """Return, per indexed key, where the words of text that start with it begin.

        Read in blocks of whole lines: an ASCII block has its non-word characters
        turned into spaces (a fast table lookup) and is split on spaces; the others are
        split on non-word runs by a regex. Both give the words of `\\w+`.
        """
        where: dict[str, list[int]] = {}
        offset = 0
        for block in blocks(text):
            if block.isascii():
                self._ascii_positions(block, block, offset, where)
            elif len(block.encode()) - len(block) < len(block) // 8 and "\x01" not in block:
                # A few non-ASCII characters: each becomes one ASCII stand-in (\x01 for a
                # word character, a space for any other), so offsets stay the same.
                self._ascii_positions(_NON_ASCII.sub(_stand_in, block), block, offset, where)
            else:
                self._regex_positions(block, offset, where)
            offset += len(block)
        return where

    def _ascii_positions(
        self, block: str, original: str, offset: int, where: dict[str, list[int]]
    ) -> None:
        """Add the anchor words of an ASCII block (see positions).

        A word whose key holds a stand-in has its key read from the original block.
        """
        table = _NON_WORD if block is original else _NON_WORD_STAND_IN
        spaced = " " + block.translate(table) + " "
        toks = spaced.split()
        find = spaced.find
        at = 0
        for tok in compress(toks, map(self.index.__contains__, map(_KEY, toks))):
            at = find(f" {tok} ", at)  # the next whole word tok: the one we want
            if at < 0:  # cannot happen (tok is there)
                break
            where.setdefault(tok[:KEY_LEN], []).append(offset + at)
            at += len(tok)
        if block is original or "\x01" not in block:
            return
        at = 0
        for tok in toks:
            if "\x01" in tok[:KEY_LEN]:
                at = find(f" {tok} ", at)
                if at < 0:  # cannot happen (tok is there)
                    break
                key = original[at : at + min(len(tok), KEY_LEN)]
                if key in self.index:
                    where.setdefault(key, []).append(offset + at)
                at += len(tok)
        for starts in where.values():
            starts.sort()  # the second pass may have added earlier positions

    def _regex_positions(self, block: str, offset: int, where: dict[str, list[int]]) -> None:
        """Add the anchor words of any block (see positions)."""
        words = _WORD.findall(block)
        find, n = block.find, len(block)
        at = 0
        for word in compress(words, map(self.index.__contains__, map(_KEY, words))):
            # The next whole-word occurrence is this one: an earlier one would be a hit too.
            at = find(word, at)
            end = at + len(word)
            while at >= 0 and (
                (at > 0 and (block[at - 1].isalnum() or block[at - 1] == "_"))
                or (end < n and (block[end].isalnum() or block[end] == "_"))
            ):
                at = find(word, at + 1)
                end = at + len(word)
            if at < 0:  # cannot happen (the word is there); never loop on it
                break
            where.setdefault(word[:KEY_LEN], []).append(offset + at)
            at += len(word)

    def match(
        self, text: str, where: dict[str, list[int]] | None = None
    ) -> list[tuple[Rule, list[int]]]:
        """Return the rules that fire on text, each with where it fires (about).

        where: the text's `positions`, if the caller has them already.
        """
        if where is None:
            where = self.positions(text)
        fired: list[tuple[Rule, list[int]]] = []
        newlines: list[int] | None = None
        if self._lines is not None and self._line_start is not None:
            match = self._lines.match
            newlines = [
                m.start() for m in self._line_start.finditer(text) if match(text, m.start())
            ]
        elif self._lines is not None:
            newlines = [m.start() for m in self._lines.finditer(text)]
        # Which gate literals occur: a one-character search (fast) before the full one.
        literals = {x for x in self._gate_literals if x[0] in text and x in text}
        for scan in self._scans:
            places = scan.places(text, where, newlines, literals)
            if places:
                fired.append((scan.rule, places))
        starts_of: dict[str, list[int]] = {}
        rules: dict[str, Rule] = {}
        for key, starts in where.items():
            lead = self._by_lead.get(key)
            if not lead:
                continue
            any_of = self._any_lead[key].match  # one call tells whether any rule may match
            good = [s for s in starts if any_of(text, s)]
            if not good:
                continue
            for rule in lead:
                starts_of.setdefault(rule.name, []).extend(good)
                rules[rule.name] = rule
        for name, starts in starts_of.items():
            match = rules[name].regex.match
            hits = [s for s in sorted(starts) if match(text, s)][:MAX_PLACES]
            if hits:
                fired.append((rules[name], hits))
        near: dict[str, list[int]] = {}
        for key, starts in where.items():
            for rule in self._near.get(key, ()):
                near.setdefault(rule.name, []).extend(starts)
                rules[rule.name] = rule
        for name, starts in near.items():
            hits = _places_near(rules[name], text, sorted(starts))
            if hits:
                fired.append((rules[name], hits))
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
