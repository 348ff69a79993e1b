"""Personal data: e-mail addresses, phone numbers, payment cards, IBANs, US SSNs, IP addresses.

Numbers are checked (Luhn for cards, mod-97 for IBANs, real address ranges for IPs) so that
order ids, timestamps, versions and private addresses in ordinary logs are left alone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator

from .base import Span

__all__ = ["PII_DETECTORS", "PII_KINDS", "PiiScan", "iban_ok", "luhn_ok"]

PII_KINDS = frozenset({"email", "phone", "card", "iban", "ssn", "ip"})

_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_DOMAIN = re.compile(
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w-])"
)
_PHONE_INTL = re.compile(
    # The lookahead only drops what the digit count below rejects (fewer than 8 digits, such
    # as the `+0000` of a log timestamp) before a match object is made for it.
    r"\+(?=(?:[ .()\-]{0,2}\d){8})"
    r"\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){2,5}(?![\d])(?!\.\d)"
)
_PHONE_US = (
    # (pattern, characters its matches start before the pattern's first literal): searching
    # from the first separator, which is rarer than a digit, lets `re` skip most positions.
    (
        re.compile(rb"-000-0000(?<![0Aa_.+\-]000-000-0000)(?<=000-000-0000)(?![0Aa_\-]|\.0)"),
        3,
    ),
    (
        re.compile(rb"\.000\.0000(?<![0Aa_.+\-]000\.000\.0000)(?<=000\.000\.0000)(?![0Aa_\-]|\.0)"),
        3,
    ),
    (re.compile(rb"\((?<![0Aa_]\()000\) ?000[-. ]0000(?![0Aa_\-]|\.0)"), 0),
)
_CARD = re.compile(
    rb"0000(?<![0Aa_.\-]0000)(?:0{9,15}|(?P<s>[ \-])0000(?P=s)0000(?P=s)0{1,7}|(?P<t>[ \-])000000(?P=t)0{4,5})"
    rb"(?![0Aa_\-]|\.0)"
)
_IBAN = re.compile(rb"AA00(?<![0Aa_]AA00)(?: ?[A0]{4}){2,7}(?: ?[A0]{1,4})?(?![0Aa])")
_SSN = re.compile(rb"-00-0000(?<![0Aa_\-]000-00-0000)(?<=000-00-0000)(?![0Aa_\-])")
"""Matches start three digits before the first `-` that the search starts from."""
_IPV4 = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)")
_SHAPE_TABLE = bytes(
    48 if 48 <= i <= 57 else 65 if 65 <= i <= 90 else 97 if 97 <= i <= 122 else i
    for i in range(256)
)
_IPV6_GATE = re.compile(r":(?::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:)")
_IPV6 = re.compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
_HEX_COLON_RUN = re.compile(r"[0-9A-Fa-f:]*")
_PRIVATE_V4 = ("10.", "127.", "192.168.")
"""Leading octets of private ranges, enough to skip most addresses in logs without parsing."""
_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|version|ver)[\s:=]{0,3}$")
_GLOBAL_V6 = ipaddress.IPv6Network("2000::/3")
_WORDISH = re.compile(r"[\w.+-]")


def _shape(text: str) -> bytes:
    """A same-length byte view of `text` where every digit is `0` and every letter `A`/`a`."""
    return text.encode("ascii", "replace").translate(_SHAPE_TABLE)


def _after_word(text: str, start: int, chars: str = "") -> bool:
    """Whether the character before `start` glues the match to a preceding word."""
    if start == 0:
        return False
    ch = text[start - 1]
    return ch.isalnum() or ch == "_" or ch in chars


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand_ok(d: str) -> bool:
    n = len(d)
    if d[0] == "4":
        return n in (13, 16, 19)
    if d[:2] in ("34", "37"):
        return n == 15
    if "51" <= d[:2] <= "55" or "2221" <= d[:4] <= "2720":
        return n == 16
    if d.startswith(("6011", "65")) or "644" <= d[:3] <= "649":
        return n in (16, 19)
    if d[:2] in ("36", "38", "39") or "300" <= d[:3] <= "305":
        return n in (14, 16)
    if "3528" <= d[:4] <= "3589":
        return n in (16, 19)
    return False


def iban_ok(compact: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN without spaces."""
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1
    except ValueError:
        return False


def emails(text: str, lowered: str) -> Iterator[Span]:
    """E-mail addresses, found from each `@` outwards."""
    at = text.find("@")
    while at >= 0:
        m = _DOMAIN.match(text, at)
        start = at
        floor = max(0, at - 64)
        while start > floor and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        if m is not None and start < at and not _after_word(text, start, "."):
            yield (start, m.end(), "email")
            at = text.find("@", m.end())
        else:
            at = text.find("@", at + 1)


def phones(text: str, lowered: str, shape: bytes | None = None) -> Iterator[Span]:
    """International (+CC ...) and North American phone numbers."""
    if "+" in text:
        for m in _PHONE_INTL.finditer(text):
            if _after_word(text, m.start(), "+"):
                continue
            s = m.group(0)
            # The match holds digits, one `+` and the separators ` .-()` only.
            digits = len(s) - 1 - sum(map(s.count, " .-()"))
            if 8 <= digits <= 15:
                yield (m.start(), m.end(), "phone")
    if "-" in text or "." in text or "(" in text:
        shape = _shape(text) if shape is None else shape
        for pattern, back in _PHONE_US:
            for hit in pattern.finditer(shape):
                yield (hit.start() - back, hit.end(), "phone")


def cards(text: str, lowered: str, shape: bytes | None = None) -> Iterator[Span]:
    """Payment card numbers with a known brand prefix and a valid Luhn digit."""
    for m in _CARD.finditer(_shape(text) if shape is None else shape):
        d = text[m.start() : m.end()].replace(" ", "").replace("-", "")
        if 13 <= len(d) <= 19 and _card_brand_ok(d) and luhn_ok(d):
            yield (m.start(), m.end(), "card")


def ibans(text: str, lowered: str, shape: bytes | None = None) -> Iterator[Span]:
    """IBANs with a valid mod-97 check."""
    for m in _IBAN.finditer(_shape(text) if shape is None else shape):
        if iban_ok(text[m.start() : m.end()].replace(" ", "")):
            yield (m.start(), m.end(), "iban")


def ssns(text: str, lowered: str, shape: bytes | None = None) -> Iterator[Span]:
    """US social security numbers written as AAA-GG-SSSS."""
    if "-" not in text:
        return
    for m in _SSN.finditer(_shape(text) if shape is None else shape):
        start = m.start() - 3
        v = text[start : m.end()]
        area = v[:3]
        if area in ("000", "666") or area[0] == "9":
            continue
        if v[4:6] != "00" and v[7:] != "0000":
            yield (start, m.end(), "ssn")


def _ipv4_ok(value: str) -> bool:
    parts = value.split(".")
    if any(len(p) > 1 and p[0] == "0" for p in parts):
        return False
    a, b, c, d = (int(p) for p in parts)
    if a > 255 or b > 255 or c > 255 or d > 255:
        return False
    if a in (10, 127) or (a == 192 and b == 168) or (a == 172 and 16 <= b <= 31):
        return False  # private in every Python version; the common case in logs
    return ipaddress.IPv4Address(value).is_global


def ips(text: str, lowered: str) -> Iterator[Span]:
    """Public IPv4 and global-unicast IPv6 addresses (private and loopback ones are kept)."""
    if "." in text:
        for m in _IPV4.finditer(text):
            start = m.start()
            floor = max(0, start - 3)
            while start > floor and text[start - 1].isdigit():
                start -= 1
            if start == m.start() or text.startswith(_PRIVATE_V4, start):
                continue
            if _after_word(text, start, "."):
                continue
            if _ipv4_ok(text[start : m.end()]) and not _VERSION_BEFORE.search(
                text, max(0, start - 10), start
            ):
                yield (start, m.end(), "ip")
    yield from _ipv6(text)


def _ipv6(text: str) -> Iterator[Span]:
    """Global IPv6 addresses, searched only in the runs of hex digits and colons that pass the
    gate. A match never leaves its run, so each run is searched as a whole search would."""
    pos = 0
    n = len(text)
    for gate in _IPV6_GATE.finditer(text):
        if gate.start() < pos:
            continue
        start = gate.start()
        while start > pos and text[start - 1] in _HEX_COLON:
            start -= 1
        run = _HEX_COLON_RUN.match(text, gate.start())
        pos = run.end() if run is not None else gate.end()
        for m in _IPV6.finditer(text, start, min(n, pos + 1)):
            if (m.start() and text[m.start() - 1] in ":.") or _after_word(text, m.start()):
                continue
            try:
                addr = ipaddress.IPv6Address(m.group(0))
            except ValueError:
                continue
            if addr in _GLOBAL_V6 and addr.is_global:
                yield (m.start(), m.end(), "ip")


PII_DETECTORS: dict[str, Callable[[str, str], Iterator[Span]]] = {
    "email": emails,
    "phone": phones,
    "card": cards,
    "iban": ibans,
    "ssn": ssns,
    "ip": ips,
}

_SHAPED = {"phone": phones, "card": cards, "iban": ibans, "ssn": ssns}
_MIN_DIGITS = {"card": 13, "ssn": 9}
"""ASCII digits a text needs before the kind can occur at all (checked on short text only)."""
_SHORT = 4096


class PiiScan:
    """The chosen PII kinds, in sorted order, sharing one shape view of each text.

    The shape is computed per call and dropped with it: nothing of the text is kept.
    """

    def __init__(self, kinds: Iterable[str]) -> None:
        self.kinds = tuple(sorted(set(kinds)))
        self._shaped = any(k in _SHAPED for k in self.kinds)

    def __call__(self, text: str, lowered: str) -> Iterator[Span]:
        """Spans of every chosen kind."""
        shape = _shape(text) if self._shaped else b""
        digits = shape.count(b"0") if len(text) < _SHORT else len(text)
        for kind in self.kinds:
            if digits < _MIN_DIGITS.get(kind, 0):
                continue
            shaped = _SHAPED.get(kind)
            if shaped is not None:
                yield from shaped(text, lowered, shape)
            else:
                yield from PII_DETECTORS[kind](text, lowered)
