"""Secrets assigned to secret-like names: `password=`, `api_key: ...`, `"token": "..."`, `<token>`.

Works for env files, YAML, JSON, shell, XML and most languages' assignment and comparison
syntax. The name decides whether a value is examined at all; the value must then not be a
placeholder, a code reference or plain words. A name with "key" alone must carry a value that
looks random. Cost stays linear: a cheap hint search, then bounded walks around each hint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from .base import Span
from .entropy import entropy, is_placeholder, looks_random
from .names import name_class
from .triggers import TriggerScan

__all__ = ["HINTS", "HINT_GUARDS", "assignments", "assignments_at"]

_HINTS = ("token", "secre", "pass", "pwd", "cred", "key", "auth", "pw", "pat", "session", "cookie")
_SHORT_HINTS = frozenset({"pw", "pat"})
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$-")
_IDENT_TAIL = re.compile(r"[A-Za-z0-9_.$-]{0,80}")
_ASSIGN = re.compile(
    r"""(?P<close>["'`]?(?:\[\d*\])?)
        (?:[ \t]{1,4}(?:string|String|str|&str|\[\]byte|char\*?|const))?
        [ \t]{0,16}
        (?P<op>:{1,3}=|\?=|\.=|\+=|=>|!==?|={1,3}|:|,|\(|>)?
        (?P<sp>[ \t]{0,32}(?:\\?\r?\n[ \t]{0,64})?)
        @?(?P<q>["'`]?)""",
    re.VERBOSE,
)
_UNQUOTED = re.compile(r"[^\s\"'`\\<]{1,256}")
_QUOTED = {q: re.compile(q + r"([^" + q + r"\n]{1,256})" + q) for q in ("'", '"', "`")}
_XML_VALUE = re.compile(r"[^<\n]{1,256}")

_BOOLISH = frozenset(
    [
        "true",
        "false",
        "null",
        "none",
        "nil",
        "yes",
        "no",
        "on",
        "off",
        "undefined",
        "required",
        "optional",
        "string",
        "str",
        "bool",
        "int",
        "bearer",
        "basic",
        "digest",
        "token",
        "password",
        "secret",
    ]
)
_DOTTED_REF = re.compile(r"[A-Za-z_$][\w$]{0,30}(?:\.[A-Za-z_$][\w$]{0,30})+(?:\(\))?")
_CONST = re.compile(r"[A-Z][A-Z0-9]*(?:[_-][A-Z0-9]+)+")
_WORDS = re.compile(r"[a-z]+(?:[_ -][a-z]+)*")
_VERSIONISH = re.compile(r".*[-_:@v]?\d+\.\d+(?:\.\d+)*(?:[-_.][A-Za-z0-9]+)?")
_VERSION_END = re.compile(r"[\w.-]*[-_:@v]\d+\.\d+(?:\.\d+)+(?:-[A-Za-z]+)?")
_FILENAME = re.compile(
    r"[\w./~-]*\.(?:pem|key|crt|cer|der|p12|pfx|jks|keystore|keytab|json|ya?ml|txt|env|conf|cfg|pub)"
)
_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "api-token", "apikey", "hmac"})


_VERDICTS: dict[tuple[int, str, bool], bool] = {}
_VERDICTS_MAX = 4096


def _value_ok(value: str, cls: str, quoted: bool) -> bool:
    """Memoised by the value's hash, so repeated values cost one check and no value is kept."""
    key = (hash(value), cls, quoted)
    verdict = _VERDICTS.get(key)
    if verdict is None:
        if len(_VERDICTS) >= _VERDICTS_MAX:
            _VERDICTS.clear()
        verdict = _VERDICTS[key] = _check_value(value, cls, quoted)
    return verdict


def _check_value(value: str, cls: str, quoted: bool) -> bool:
    v = value
    if cls == "weak" and not quoted:
        return False  # a bare `key` needs a quoted, random-looking value (see below)
    if is_placeholder(v) or v.lower() in _BOOLISH:
        return False
    if _CONST.fullmatch(v) or _FILENAME.fullmatch(v):
        return False
    if _DOTTED_REF.fullmatch(v) and not any(
        len(seg) >= 12 and any(c.isdigit() for c in seg) for seg in v.split(".")
    ):
        return False
    if v.startswith(("/", "./", "~/", "http://", "https://", "file:")):
        return False
    if v.isdigit() and len(v) < 12:
        return False
    if cls == "password":
        return len(v) >= 6
    if (_VERSIONISH.fullmatch(v) and entropy(v) < 3.6) or _VERSION_END.fullmatch(v):
        return False
    if cls == "weak":
        return quoted and looks_random(v, min_len=20, min_entropy=3.5)
    if cls == "session":
        return " " not in v and looks_random(v, min_len=16, min_entropy=3.0)
    if _WORDS.fullmatch(v) and not quoted:
        return False
    if quoted and (" = " in v or v.endswith((" ", " ="))):
        return False
    if quoted and " " in v:
        return (len(v) >= 10 and not _WORDS.fullmatch(v.replace(" ", "_"))) or entropy(v) >= 3.5
    return looks_random(v, min_len=8, min_entropy=3.0)


def _value_at(text: str, pos: int, quote: str, op: str) -> tuple[int, int] | None:
    if quote:
        m = _QUOTED[quote].match(text, pos - 1)
        return (m.start(1), m.end(1)) if m else None
    m = (_XML_VALUE if op == ">" else _UNQUOTED).match(text, pos)
    if m is None:
        return None
    end = m.end()
    while end > pos and text[end - 1] in ",;)]}>":
        end -= 1
    if op == ">":
        while end > pos and text[end - 1] in " \t":
            end -= 1
    return (pos, end) if end > pos else None


_REVERSED = re.compile(
    r"""(["'])([^"'\n]{1,512})\1[ \t]{0,8}(?:===?|!==?)[ \t]{0,8}([A-Za-z_$][\w.$]{0,80})"""
)


_EQUALS = re.compile("==")
"""`re` finds this literal faster than `in` does, `=` being common; `!` is rare, `in` is fine."""


def _reversed(text: str) -> Iterator[Span]:
    """`"value" == password` comparisons, with the literal on the left."""
    for m in _REVERSED.finditer(text):
        cls = name_class(m.group(3))
        if cls in ("password", "token") and _value_ok(m.group(2), cls, True):
            yield (m.start(2), m.end(2), "secret_assignment")


HINTS = _HINTS
"""Lowered substrings of secret-like names; where they occur is where assignments are sought."""
HINT_GUARDS = {word: "(?![a-z])" for word in _SHORT_HINTS}
"""Short hints count only as whole words, so a letter after them rules them out at once."""
_HINT_SCAN = TriggerScan(_HINTS, HINT_GUARDS)


def _hint_positions(lowered: str, found: Mapping[str, list[int]]) -> list[tuple[int, int]]:
    """(start, end) of every secret-name hint, in order; `pw`/`pat` only as whole words."""
    hits: list[tuple[int, int]] = []
    n = len(lowered)
    for word in _HINTS:
        size = len(word)
        short = word in _SHORT_HINTS
        for i in found.get(word, ()):
            if not short or (
                (i == 0 or not lowered[i - 1].isalpha())
                and (i + size == n or not lowered[i + size].isalpha())
            ):
                hits.append((i, i + size))
    hits.sort()
    return hits


def assignments(text: str, lowered: str) -> Iterator[Span]:
    """Values assigned to (or compared with) secret-like names."""
    return assignments_at(text, lowered, _HINT_SCAN.positions(lowered))


def assignments_at(text: str, lowered: str, found: Mapping[str, list[int]]) -> Iterator[Span]:
    """`assignments`, given where the `HINTS` occur in `lowered` (other words are ignored)."""
    if _EQUALS.search(text) is not None or ("!" in text and "!=" in text):
        yield from _reversed(text)
    pos = 0
    n = len(text)
    for hint_start, hint_end in _hint_positions(lowered, found):
        if hint_start < pos:
            continue
        start = hint_start
        floor = max(0, start - 80)
        while start > floor and text[start - 1] in _IDENT_CHARS:
            start -= 1
        tail = _IDENT_TAIL.match(text, hint_end)
        ident_end = tail.end() if tail else hint_end
        pos = max(ident_end, hint_end)
        ident = text[start:ident_end].strip(".-$")
        cls = name_class(ident)
        if cls is None:
            continue
        am = _ASSIGN.match(text, ident_end)
        if am is None:
            continue
        quote = am.group("q")
        if cls == "weak" and not quote:
            continue  # a bare `key` only counts with a quoted value (see `_check_value`)
        op = am.group("op") or ""
        if "\n" in am.group("sp") and op != ">":
            continue
        if op in (",", "(") and not quote:
            continue
        if op == "," and not am.group("close"):
            continue
        if not op and not quote and cls != "token":
            continue
        if quote == "`" and " " in text[am.end() : am.end() + 80].split("`", 1)[0]:
            continue
        span = _value_at(text, am.end(), quote, op)
        if span is None:
            continue
        vs, ve = span
        value = text[vs:ve]
        if value.lower() in _SCHEMES and not quote:
            nxt = re.match(r"[ \t]{1,8}([^\s\"'`<]{1,4096})", text[ve : min(n, ve + 4200)])
            if nxt is None:
                continue
            vs, ve = ve + nxt.start(1), ve + nxt.end(1)
            value = text[vs:ve].rstrip(",;")
            ve = vs + len(value)
        if not op and not quote and not looks_random(value, min_len=16, min_entropy=3.5):
            continue
        if not _value_ok(value, cls, bool(quote)):
            continue
        yield (vs, ve, "secret_assignment")
        pos = max(pos, ve)
