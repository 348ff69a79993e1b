"""Finding every occurrence of many short literals (rule triggers, name hints) in a few passes.

`re` has no multi-literal search, and an alternation of literals is slow: `re` must start a
match attempt at every character that can begin one of them, and in ordinary text almost every
letter can. But `re` skips to a pattern's literal first character very fast (about as fast as
`str.find`), and a lookaround costs nothing until it is reached. So each literal is searched
from one of its characters (its anchor) with one pass per anchor character: `ghp_` becomes
`g(?=hp_)`, `token` becomes `k(?=en(?<=token))`, and all literals anchored at `k` share the
pass `k(?=...)` whose lookahead is a trie of what follows. Anchors are chosen so that few
passes cover every literal, each stopping only at characters that are rare in logs and prose.
Lookarounds consume nothing, so overlapping literals are all found.

    scan = TriggerScan(["ghp_", "xox", "token"])
    scan.positions("use ghp_x and xoxb-1")  ->  {"ghp_": [4], "xox": [14]}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["TriggerScan", "rarity"]

# Rough share (per cent) of each character in log lines, code and prose; lower is rarer.
_LOWER = {
    "e": 6.3, "t": 4.6, "a": 4.1, "o": 3.8, "i": 3.5, "n": 3.4, "s": 3.2, "h": 3.0, "r": 3.0,
    "d": 2.2, "l": 2.0, "c": 1.4, "u": 1.4, "m": 1.2, "w": 1.2, "f": 1.1, "g": 1.0, "y": 1.0,
    "p": 1.0, "b": 0.8, "v": 0.5, "k": 0.4, "j": 0.1, "x": 0.1, "q": 0.05, "z": 0.05,
}  # fmt: skip
_PUNCT = {
    " ": 15.0,
    "-": 2.7,
    ".": 2.2,
    ":": 2.5,
    "/": 1.7,
    "=": 1.9,
    '"': 2.7,
    "_": 0.6,
    ",": 0.7,
    "\n": 0.9,
    "'": 0.5,
    "%": 0.2,
    "+": 0.1,
    "|": 0.05,
    "~": 0.02,
    "<": 0.05,
}


def rarity(ch: str) -> float:
    """A rough frequency of `ch` in text we redact (lower is rarer): the anchor-choosing key."""
    if ch in _PUNCT:
        return _PUNCT[ch]
    if ch.isdigit():
        return 3.0
    if ch in _LOWER:
        return _LOWER[ch]
    low = ch.lower()
    if low in _LOWER:
        # Upper-case letters are rare in logs, but level names and timestamps use a few.
        return _LOWER[low] / 6 + (0.5 if ch in "TZEIRONGFD" else 0.0)
    return 0.1


_PASS_COST = 0.5
_SHORT_TAIL = 0.5
"""What one more regex pass costs, in units of one per cent of anchor-character frequency."""


def _offset(word: str, ch: str) -> int:
    """The occurrence of `ch` in `word` to search from: the first one that leaves at least two
    characters to check by literal comparison, else the last one (the most of `word` before it
    is then checked in one lookbehind)."""
    spots = [i for i, c in enumerate(word) if c == ch]
    long_tail = [i for i in spots if len(word) - i - 1 >= 2]
    return long_tail[0] if long_tail else spots[0]


def _gain(ch: str, words: Iterable[str]) -> float:
    """How well a pass for `ch` covers `words`: a word counts less when it would be left with
    fewer than two characters after the anchor, since its lookbehind then runs at every stop."""
    gain = 0.0
    for word in words:
        if ch in word:
            gain += 1.0 if len(word) - _offset(word, ch) - 1 >= 2 else _SHORT_TAIL
    return gain


def _anchors(words: Iterable[str]) -> dict[str, int]:
    """Which character of each word to search from, chosen greedily so that few passes cover all
    words and each pass stops only at a character that is rare in logs and prose.

    Each pass costs `_PASS_COST` plus the frequency of its character; the character with the
    lowest cost per word it covers is taken until every word is covered.
    """
    uncovered = set(words)
    chosen: dict[str, int] = {}
    while uncovered:
        chars = {c for w in uncovered for c in w}
        best = min(chars, key=lambda c: ((_PASS_COST + rarity(c)) / _gain(c, uncovered), c))
        for word in [w for w in uncovered if best in w]:
            chosen[word] = _offset(word, best)
            uncovered.discard(word)
    return _merged(chosen)


def _merged(chosen: dict[str, int]) -> dict[str, int]:
    """Drop a pass when each of its words also holds the anchor of another pass: a word added
    to an existing pass costs a few literal checks where that pass stops anyway."""
    anchors = {w[i] for w, i in chosen.items()}
    for ch in sorted(anchors, key=rarity):
        words = [w for w, i in chosen.items() if w[i] == ch]
        others = anchors - {ch}
        if all(any(c in others for c in w) for w in words):
            for w in words:
                # The most frequent other anchor: the pass whose stops are paid for already.
                chosen[w] = _offset(w, max((c for c in w if c in others), key=rarity))
            anchors.discard(ch)
    return chosen


_FIND_LIMIT = 64
_SHORT = 2048
"""Below this length one combined pass is cheaper than one pass per anchor character."""

_Trie = dict[str, "_Trie"]


def _forward(words: Iterable[str]) -> str:
    """A prefix-factored regex matching any of `words`."""
    root: _Trie = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: _Trie) -> str:
        if "" in node:
            return ""
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items())]
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return build(root)


def _tail_regex(node: _Trie, guards: Mapping[str, str]) -> str:
    """A regex over the trie of what follows an anchor. Leaves are keyed by the whole word,
    prefixed with NUL when the word starts at the anchor.

    Words that begin before the anchor are checked backwards, one lookbehind per word length
    (a lookbehind must have one width) holding a prefix-factored alternation of those words.
    A word's guard, if any, must match after it.
    """
    leaves = [key for key in node if len(key) != 1]
    front = [key[1:] for key in leaves if key.startswith("\0")]
    if any(word not in guards for word in front):
        return ""
    alts = [re.escape(key) + _tail_regex(sub, guards) for key, sub in node.items() if len(key) == 1]
    alts += sorted({"(?=" + guards[word] + ")" for word in front})
    by_len: dict[int, list[str]] = {}
    for word in leaves:
        if word.startswith("\0"):
            continue
        if word in guards:
            alts.append("(?<=" + re.escape(word) + ")(?=" + guards[word] + ")")
        else:
            by_len.setdefault(len(word), []).append(word)
    alts += ["(?<=" + _forward(words) + ")" for _, words in sorted(by_len.items())]
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


_Entry = tuple[str, int]


class _Stop:
    """The words anchored at one character, indexed by their characters next to the anchor, so
    that a stop is checked against the few words that can occur there."""

    __slots__ = ("after", "alone", "before")

    def __init__(self, entries: Iterable[_Entry]) -> None:
        self.after: dict[str, list[_Entry]] = {}
        self.before: dict[str, list[_Entry]] = {}
        self.alone: list[_Entry] = []
        for word, i in entries:
            if i + 1 < len(word):
                self.after.setdefault(word[i + 1], []).append((word, i))
            elif i:
                self.before.setdefault(word[i - 1], []).append((word, i))
            else:
                self.alone.append((word, i))

    def record(self, hay: str, p: int, found: dict[str, list[int]]) -> None:
        """Add every word that occurs with its anchor at `p` to `found`."""
        cands = self.after.get(hay[p + 1 : p + 2], [])
        if p and self.before:
            cands = cands + self.before.get(hay[p - 1], [])
        for word, i in cands + self.alone if self.alone else cands:
            if i <= p and hay.startswith(word, p - i):
                found.setdefault(word, []).append(p - i)


class TriggerScan:
    """All start positions of a fixed set of literals in a text, one regex pass per anchor."""

    def __init__(self, words: Iterable[str], guards: Mapping[str, str] | None = None) -> None:
        """`guards` maps some words to a regex that must match right after them; a guard only
        saves work, so it must hold after every occurrence the caller cares about."""
        self.words = tuple(sorted({w for w in words if w}))
        guards = {w: g for w, g in (guards or {}).items() if w in self.words}
        by_char: dict[str, list[_Entry]] = {}
        for word, i in sorted(_anchors(self.words).items()):
            by_char.setdefault(word[i], []).append((word, i))
        passes: list[tuple[str, re.Pattern[str], _Stop]] = []
        for ch, entries in sorted(by_char.items()):
            root: _Trie = {}
            for word, i in entries:
                node = root
                for c in word[i + 1 :]:
                    node = node.setdefault(c, {})
                # A leaf (any key but one character): the whole word, checked backwards, when it
                # starts before the anchor.
                node[word if i else "\0" + word] = {}
            tail = _tail_regex(root, guards)
            rx = re.compile(re.escape(ch) + ("(?=" + tail + ")" if tail else ""))
            passes.append((ch, rx, _Stop(entries)))
        self._passes = tuple(passes)
        # Short text: one alternation of every pass costs one call instead of one per anchor.
        self._one = re.compile("|".join(rx.pattern for _, rx, _ in passes) or "(?!)")
        self._stops = {ch: stop for ch, _, stop in passes}

    def positions(self, hay: str) -> dict[str, list[int]]:
        """Every literal that occurs in `hay`, with its start positions in ascending order."""
        found: dict[str, list[int]] = {}
        if len(hay) < _SHORT:
            stops = self._stops
            for m in self._one.finditer(hay):
                p = m.start()
                stops[hay[p]].record(hay, p, found)
            return found
        for ch, rx, stop in self._passes:
            record = stop.record
            # A rare anchor is reached faster by `str.find` (memchr) than by a regex pass; after
            # `_FIND_LIMIT` stops the regex pass takes over for the rest of the text.
            p = hay.find(ch)
            seen = 0
            match = rx.match
            while p >= 0 and seen < _FIND_LIMIT:
                if match(hay, p) is not None:
                    record(hay, p, found)
                p = hay.find(ch, p + 1)
                seen += 1
            if p >= 0:
                for m in rx.finditer(hay, p):
                    record(hay, m.start(), found)
        return found
