"""Text normalisation for the injection scanner: one canonical form plus trick-undoing variants.

`canonical` applies NFKC/NFKD compatibility folding, drops zero-width, bidi and
other invisible format characters (and Unicode tag characters), strips accents and
lower-cases. `variants` returns further readings of a canonical text when it shows
a trick: Cyrillic/Greek look-alikes folded to Latin, leetspeak folded, letters
spaced apart joined again. Each variant is labelled by the trick it undoes.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "Signals",
    "blocks",
    "canonical",
    "fold_pattern",
    "signals",
    "variants",
    "visible",
    "words",
]

# Invisible characters: zero-width, joiners, bidi controls, soft hyphen, BOM, word joiner.
_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
    "\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"
)
_DROP = dict.fromkeys(map(ord, _INVISIBLE))
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
_TAGS = re.compile("[\U000e0000-\U000e007f]")
_HIDDEN = re.compile(f"[{_INVISIBLE}\U000e0000-\U000e007f]")
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")

# Look-alikes folded to Latin (after lower-casing): Cyrillic, Greek, Turkish dotless i.
_HOMOGLYPHS = str.maketrans(
    "аеорсхуікјѕԁԛԝһӏвмнтьɡαεορτυνικχϲϳı",
    "aeopcxyikjsdqwhlbmhtbgaeoptuvikxcji",
)
_NON_LATIN = re.compile("[\u0370-\u03ff\u0400-\u04ff\u0131]")
# A Latin letter next to a Greek or Cyrillic one: a word that mixes scripts.
_MIXED = re.compile("[a-z][\u0370-\u03ff\u0400-\u04ff]|[\u0370-\u03ff\u0400-\u04ff][a-z]")
# The same fact, found faster: it starts with the rarer Greek/Cyrillic letter, so the
# regex engine skips Latin text quickly. Used as a gate before counting with _MIXED.
_MIXED_GATE = re.compile("[\u0370-\u03ff\u0400-\u04ff](?:(?<=[a-z].)|(?=[a-z]))")

_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "8": "b",
    }
)
_LEET_HINT = re.compile(r"[a-z][0134578@$][a-z]")
# The same hint found from its digit or symbol, rarer than letters: much faster on prose.
_LEET_HINT_FAST = re.compile(r"[0134578@$](?<=[a-z].)(?=[a-z])")
# Both at once (they map different characters).
_LEET_FOLD: dict[int, str | int | None] = {**_HOMOGLYPHS, **_LEET}
_LEET_CHARS = "@$!|"
_LEET_WORD_MAX = 40  # longer runs of letters, digits and leet symbols are not one word
_LEET_TAIL = re.compile(r"[\w@$!|]*")
_WORD = re.compile(r"\w+")
LONG = 2048  # longer texts are read line by line where a trick shows
# A run of at least four single characters, each followed by a separator.
_WIDE = re.compile(r" {2,}")
_SINGLE = re.compile(r"(?<=\S) (?=\S)")
_SPACED_GATE = re.compile(r"[ ._*\-/]\w[ ._*\-/]+\w[ ._*\-/]+\w[ ._*\-/]")
_SPACED = re.compile(r"(?:\w[ ._*\-/]{1,3}){4,}\w\b")


def canonical(text: str) -> tuple[str, int, bool]:
    """Return the canonical form of text, how many invisible characters it held, and
    whether it smuggled text in Unicode tag characters.

    A long text is folded in blocks of whole lines: pure ASCII blocks only need lower
    case, so a log with one emoji does not pay Unicode normalisation on every line.
    Folding never joins characters across a newline, so the result is the same.
    """
    if text.isascii():
        return text.lower(), 0, False
    if len(text) <= LONG:
        return _fold(text)
    out: list[str] = []
    hidden, tags = 0, False
    for block in blocks(text):
        if block.isascii():
            out.append(block.lower())
            continue
        folded, h, t = _fold(block)
        out.append(folded)
        hidden += h
        tags |= t
    return "".join(out), hidden, tags


def blocks(text: str, size: int = 4096) -> list[str]:
    """Cut text into blocks of about size characters, each ending after a newline."""
    out: list[str] = []
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start + size)
        end = n if end < 0 else end + 1
        out.append(text[start:end])
        start = end
    return out


def _fold(text: str) -> tuple[str, int, bool]:
    """Return the canonical form of a text that is not pure ASCII (see canonical)."""
    norm = unicodedata.normalize("NFKD", text)
    hidden, tags, stripped = 0, False, norm
    if _HIDDEN.search(norm) is not None:  # most text has neither kind
        found = [0, 0]  # invisible characters, tag characters
        stripped = _HIDDEN.sub(lambda m: _unhide(m, found), norm)  # one pass for both
        hidden = found[0] - norm.count("\u200d")  # ZWJ joins emoji
        tags = found[1] > 0
    stripped = _MARKS.sub("", stripped)
    return unicodedata.normalize("NFKC", stripped).lower(), hidden, tags


def fold_pattern(pattern: str) -> str:
    """Strip accents from a regex written in lower case, as canonical does to text."""
    norm = _MARKS.sub("", unicodedata.normalize("NFKD", pattern))
    return unicodedata.normalize("NFKC", norm)


def _unhide(m: re.Match[str], found: list[int]) -> str:
    """Drop an invisible character or read a tag character back, counting each kind."""
    char = m.group()
    if char < "\U000e0000":
        found[0] += 1
        return ""
    found[1] += 1
    return _untag(m)


def _untag(m: re.Match[str]) -> str:
    """Turn a Unicode tag character back into the ASCII character it smuggles."""
    code = ord(m.group()) - 0xE0000
    return chr(code) if 0x20 <= code < 0x7F else ""


def visible(text: str) -> str:
    """Return text without its invisible characters (case and encoding kept, for decoders)."""
    return _TAGS.sub("", _INVISIBLE_RE.sub("", text))


def words(text: str) -> list[str]:
    """Return the word tokens of a canonical text."""
    return _WORD.findall(text)


class Signals:
    """Cheap facts about a canonical text that decide which variants are worth reading."""

    __slots__ = ("leet", "mixed_script", "non_latin", "spaced")

    def __init__(self, text: str) -> None:
        """Compute the signals of one canonical text."""
        self.non_latin = not text.isascii() and _NON_LATIN.search(text) is not None
        mixed = self.non_latin and _MIXED_GATE.search(text) is not None
        self.mixed_script = len(_MIXED.findall(text)) if mixed else 0
        if len(text) > LONG:  # variants looks for these line by line, once
            self.leet = self.spaced = True
            return
        self.leet = _LEET_HINT.search(text) is not None
        self.spaced = _SPACED_GATE.search(text) is not None and _SPACED.search(text) is not None


def signals(text: str) -> Signals:
    """Return the signals of a canonical text."""
    return Signals(text)


def _join_spaced(m: re.Match[str]) -> str:
    """Join a run of spaced-out letters, keeping wide gaps as word breaks."""
    run = re.sub(r" {2,}|\s*/\s*", "\x00", m.group())
    return re.sub(r"[ ._*\-]", "", run).replace("\x00", " ")


def suspect_lines(text: str, regex: re.Pattern[str]) -> str:
    """Return the lines of text on which regex matches, joined; the text itself if short."""
    if len(text) <= LONG:
        return text
    lines: list[str] = []
    search = regex.search
    m = search(text)
    while m is not None:
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        end = len(text) if end < 0 else end
        lines.append(text[start:end])
        m = search(text, end + 1)  # the next line with a match
    return "\n".join(lines)


def _leet_lines(text: str, anchors: frozenset[str] | None) -> str:
    """Return the lines of a long text with a leetspeak word that folds to an anchor word.

    Without anchors, every line with a leetspeak hint.
    """
    if anchors is None:
        return suspect_lines(text, _LEET_HINT)
    lines: list[str] = []
    rev = text[::-1]  # to find where a word begins with a forward regex match
    n = len(text)
    search, tail = _LEET_HINT_FAST.search, _LEET_TAIL.match
    m = search(text)
    while m is not None:
        a = n - tail(rev, n - m.start()).end()  # type: ignore[union-attr]
        b = tail(text, m.end()).end()  # type: ignore[union-attr]
        if b - a > _LEET_WORD_MAX:  # a blob or an identifier, not a word
            m = search(text, b)
            continue
        # The folded run is one word (leet symbols fold to letters): its key is enough.
        if text[a : min(b, a + 4)].translate(_LEET_FOLD) not in anchors:
            m = search(text, b)  # the next word with a hint
            continue
        start = text.rfind("\n", 0, a) + 1
        end = text.find("\n", b)
        end = len(text) if end < 0 else end
        lines.append(text[start:end])
        m = search(text, end + 1)  # the next line
    return "\n".join(lines)


def variants(
    text: str, sig: Signals, anchors: frozenset[str] | None = None
) -> list[tuple[str, str]]:
    """Return (trick, text) readings of a canonical text that undo the tricks it shows.

    A long text is read again only on the lines that show the trick, so the cost of a
    reading stays proportional to what looks suspicious; given the anchor keys of the
    rules, leetspeak is undone only on lines where a folded word becomes an anchor word.
    """
    out: list[tuple[str, str]] = []
    if len(text) > LONG:
        if sig.non_latin:
            sig.non_latin = sig.mixed_script > 0
            text_h = suspect_lines(text, _MIXED) if sig.non_latin else ""
        if sig.leet:
            text_l = _leet_lines(text, anchors)
            sig.leet = bool(text_l)
        if sig.spaced:  # runs of spaced letters, only on the lines that pass the cheap gate
            gated = suspect_lines(text, _SPACED_GATE).split("\n")
            text_s = "\n".join(line for line in gated if _SPACED.search(line))
            sig.spaced = bool(text_s)
    else:
        text_h = text_l = text_s = text
    if sig.non_latin:
        out.append(("homoglyph", text_h.translate(_HOMOGLYPHS)))
    if sig.leet:
        out.append(("leetspeak", text_l.translate(_HOMOGLYPHS).translate(_LEET)))
    if sig.spaced:
        text = text_s
        joined = _SPACED.sub(_join_spaced, text)
        out.append(("spacing", joined))
        dense = _SINGLE.sub("", _WIDE.sub("\x00", text)).replace("\x00", " ")
        out.append(("spacing", dense))
        out.append(("squashed", re.sub(r"[^a-z]", "", joined)))
    return out
