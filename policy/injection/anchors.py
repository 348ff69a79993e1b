"""Reading a rule's regex for what every match must start with, so long text is read only there.

`heads` is the original, narrow reading (a leading group of literal words) that decides
the keys a rule is indexed by. `lead_keys` reads further: optional leading groups, nested
groups and words followed by optional suffixes. It returns the index keys (first KEY_LEN
characters) of the word every match starts with, or None when it cannot be sure; a rule
with lead keys is tried on a long text only with `match` at words starting with one of
them. `line_body` recognises a rule that begins at a line start, `(?:^|\\n)`, so that it
can be searched for at newlines instead of near its anchor words. Both are conservative:
None means "search more widely", never "cannot match".
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["KEY_LEN", "group_end", "heads", "key_of", "lead_keys", "line_body", "split_top"]

KEY_LEN = 4
_META = set("[](){}.*+?|^$\\")
_QUANT = set("?*+{")
_OPTIONAL = set("?*{")  # quantifiers that may leave a character out ({ conservatively)
# Characters that, written literally after a word, end it (a word token is \w+).
_ENDS_WORD = set(" '’,:;!\"-/<>=&%#@~`")


def key_of(word: str) -> str:
    """Return the index key of a word: its first KEY_LEN characters."""
    return word[:KEY_LEN]


def split_top(body: str, sep: str = "|") -> list[str]:
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


def group_end(pattern: str, start: int = 0) -> int:
    """Return the index of the parenthesis closing the group opened at start, or -1."""
    depth, in_class, escaped = 0, False, False
    for i in range(start, len(pattern)):
        c = pattern[i]
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
            if depth == 0:
                return i
    return -1


def heads(pattern: str) -> tuple[str, ...] | None:
    """Return the keys of the literal words every match starts with, or None if unknown.

    The narrow reading: only a leading group of plain alternatives (or one plain word).
    """
    if pattern.startswith("(?:"):
        end = group_end(pattern)
        if end < 0 or pattern[end + 1 : end + 2] in {"?", "*", "{"}:
            return None
        alts = split_top(pattern[3:end])
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


def lead_keys(pattern: str) -> frozenset[str] | None:
    """Return the keys of the word every match of pattern starts with, or None if unsure."""
    keys: set[str] = set()
    for alt in split_top(pattern):
        found = _alt_keys(alt)
        if found is None:
            return None
        keys |= found
    return frozenset(keys) if keys else None


@lru_cache(maxsize=4096)
def _alt_keys(alt: str) -> frozenset[str] | None:
    """Return the lead keys of one alternative (no top-level '|'), or None if unsure."""
    alt = alt.removeprefix("\\b")
    if alt.startswith("(?:"):
        end = group_end(alt)
        if end < 0:
            return None
        body, after = alt[3:end], alt[end + 1 :]
        quant = after[:1]
        if quant in {"*", "+", "{"}:
            return None
        rest = after[1:].removeprefix("?") if quant == "?" else after
        keys: set[str] = set()
        for sub in split_top(body):
            found = _alt_keys(sub + rest)
            if found is None:
                return None
            keys |= found
        if quant == "?":
            found = _alt_keys(rest)
            if found is None:
                return None
            keys |= found
        return frozenset(keys)
    word = ""
    for c in alt:
        if c in _META or not (c.isalnum() or c == "_"):
            break
        word += c
    if not word:
        return None
    rest = alt[len(word) :]
    if rest[:1] in _QUANT:  # the word's last letter is quantified
        if rest[:1] != "?" or rest[1:2] in _QUANT:
            shorter = word[:-1]
            return frozenset({key_of(shorter)}) if len(shorter) >= KEY_LEN else None
        return _either(word + rest[1:], word[:-1] + rest[1:])
    if len(word) >= KEY_LEN:
        return frozenset({key_of(word)})
    if rest.startswith("(?:"):  # a short word, then a group: read with each alternative
        end = group_end(rest)
        quant = rest[end + 1 : end + 2] if end > 0 else "*"
        if quant in {"*", "+", "{"}:
            return None
        tail = rest[end + 2 :].removeprefix("?") if quant == "?" else rest[end + 1 :]
        subs = [word + sub + tail for sub in split_top(rest[3:end])]
        return _either(*subs, *([word + tail] if quant == "?" else []))
    optional = _optional_char(rest)
    if optional is not None:  # word, then an optional character: read with each choice
        chars, tail = optional
        return _either(*(word + c + tail for c in chars), word + tail)
    # A short word is its own key only if the match shows that the word ends there.
    if rest.startswith("\\b") or (rest[:1] in _ENDS_WORD and rest[1:2] not in _OPTIONAL):
        return frozenset({word})
    escaped_mark = rest[:1] == "\\" and rest[1:2] and not rest[1].isalnum()
    if (escaped_mark or rest.startswith(("\\s", "\\n"))) and rest[2:3] not in _OPTIONAL:
        return frozenset({word})
    return None


def _either(*alts: str) -> frozenset[str] | None:
    """Return the union of the lead keys of several alternatives, or None if one is unsure."""
    keys: set[str] = set()
    for alt in alts:
        found = _alt_keys(alt)
        if found is None:
            return None
        keys |= found
    return frozenset(keys)


def _optional_char(rest: str) -> tuple[list[str], str] | None:
    """Read `X?` at the start of rest, X one literal character or a plain class.

    Returns the choices for X (escaped for a regex) and what follows, or None.
    """
    if rest.startswith("["):
        end = rest.find("]", 1)
        body = rest[1:end]
        if end < 0 or body.startswith("^") or "\\" in body.replace("\\-", ""):
            return None
        chars = body.replace("\\-", "")
        if "-" in chars[1:-1]:
            return None  # a range
        choices = sorted(set(chars) | ({"-"} if "\\-" in body else set()))
        after = rest[end + 1 :]
    elif rest.startswith("\\") and rest[1:2] and not rest[1].isalnum():
        choices, after = [rest[1]], rest[2:]
    elif rest[:1] and rest[0] not in _META:
        choices, after = [rest[0]], rest[1:]
    else:
        return None
    if after[:1] != "?" or after[1:2] in _QUANT - {"?"}:
        return None
    return ["\\" + c if c in _META else c for c in choices], after[1:].removeprefix("?")


def line_body(pattern: str) -> str | None:
    """Return what follows a leading (?:^|\\n) when the whole pattern is one alternative."""
    for lead in ("(?:^|\\n)", "(?:\\n|^)"):
        if pattern.startswith(lead):
            rest = pattern[len(lead) :]
            if len(split_top(rest)) == 1:
                return rest
    return None
