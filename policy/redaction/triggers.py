"""Finding every occurrence of many short literals (rule triggers, name hints) in one pass.

`re` has no multi-literal search: an alternation of literals is tried at every position whose
character can start one of them, and in ordinary text almost every letter can. So each literal
is searched from its rarest character instead: `ghp_` becomes `_(?<=ghp_)`, `token` becomes
`k(?<=tok)(?=en)`. The compiled alternation then starts only at a few rare characters (upper
case letters, `_`, `k`, `x`, `~` ...), which `re` skips to without starting a match attempt, and
each hit is one of the literals. Lookarounds consume nothing, so overlapping literals are all
found: every position holding an anchor character is examined exactly once.

    scan = TriggerScan(["ghp_", "xox", "token"])
    scan.positions("use ghp_x and xoxb-1")  ->  {"ghp_": [4], "xox": [14]}
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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


def _anchor(word: str) -> int:
    """Where to search `word` from: a rare character with at least two characters after it.

    What follows the anchor is checked by literal comparisons inside one lookahead, which
    reject a wrong position at once; what precedes it needs a lookbehind, tried only after
    the following characters matched. A short tail would leave the lookbehind to run at every
    occurrence of the anchor character, hence the penalty.
    """

    def cost(i: int) -> tuple[float, int]:
        tail = len(word) - i - 1
        return (rarity(word[i]) + (0.0 if tail >= 2 or tail == len(word) - 1 else 0.8), i)

    return min(range(len(word)), key=cost)


_Trie = dict[str, "_Trie"]


def _tail_regex(node: _Trie) -> str:
    """A regex over the trie of what follows an anchor; leaves are keyed by the whole word."""
    alts = []
    for key, sub in node.items():
        if len(key) != 1:
            alts.append("(?<=" + re.escape(key) + ")" if key else "")
        else:
            alts.append(re.escape(key) + _tail_regex(sub))
    if "" in alts:
        return ""
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


class TriggerScan:
    """All start positions of a fixed set of literals in a text, found with one regex pass."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(sorted({w for w in words if w}))
        by_char: dict[str, list[tuple[str, int]]] = {}
        for word in self.words:
            i = _anchor(word)
            by_char.setdefault(word[i], []).append((word, i))
        self._by_char = {c: tuple(v) for c, v in by_char.items()}
        groups = []
        for ch, entries in sorted(by_char.items(), key=lambda kv: -rarity(kv[0])):
            root: _Trie = {}
            for word, i in entries:
                node = root
                for c in word[i + 1 :]:
                    node = node.setdefault(c, {})
                # A leaf (any key but one character): the whole word, checked backwards, when it
                # starts before the anchor.
                node[word if i else ""] = {}
            tail = _tail_regex(root)
            groups.append(re.escape(ch) + ("(?=" + tail + ")" if tail else ""))
        self._rx = re.compile("|".join(groups) if groups else "(?!)")

    def positions(self, hay: str) -> dict[str, list[int]]:
        """Every literal that occurs in `hay`, with its start positions in ascending order."""
        found: dict[str, list[int]] = {}
        by_char = self._by_char
        starts = hay.startswith
        for m in self._rx.finditer(hay):
            p = m.start()
            for word, i in by_char[hay[p]]:
                if i <= p and starts(word, p - i):
                    found.setdefault(word, []).append(p - i)
        return found
