"""Personal data: e-mail addresses, phone numbers, payment cards, IBANs, US SSNs, IP addresses.

Numbers are checked (Luhn for cards, mod-97 for IBANs, real address ranges for IPs) so that
order ids, timestamps, versions and private addresses in ordinary logs are left alone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

from .base import Span

__all__ = ["PII_DETECTORS", "PII_KINDS", "iban_ok", "luhn_ok"]

PII_KINDS = frozenset({"email", "phone", "card", "iban", "ssn", "ip"})

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}"
    r"[A-Za-z]{2,24}(?![\w-])"
)
_PHONE_INTL = re.compile(
    r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){2,5}(?![\d])(?!\.\d)"
)
_PHONE_US = re.compile(
    r"(?<![\w.+-])(?:\(\d{3}\)[ ]?\d{3}[-. ]\d{4}|\d{3}(?P<s>[-.])\d{3}(?P=s)\d{4})(?![\w-]|\.\d)"
)
_CARD = re.compile(
    r"(?<![\w.-])(?:\d{13,19}|\d{4}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{1,7}|\d{4}(?P<t>[ -])\d{6}(?P=t)\d{4,5})"
    r"(?![\w-]|\.\d)"
)
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"
)
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w]|\.\d)"
)
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|version|ver)[\s:=]{0,3}$")
_GLOBAL_V6 = ipaddress.IPv6Network("2000::/3")


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
    """E-mail addresses."""
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield (m.start(), m.end(), "email")


def phones(text: str, lowered: str) -> Iterator[Span]:
    """International (+CC ...) and North American phone numbers."""
    if "+" in text:
        for m in _PHONE_INTL.finditer(text):
            digits = sum(ch.isdigit() for ch in m.group(0))
            if 8 <= digits <= 15:
                yield (m.start(), m.end(), "phone")
    for m in _PHONE_US.finditer(text):
        yield (m.start(), m.end(), "phone")


def cards(text: str, lowered: str) -> Iterator[Span]:
    """Payment card numbers with a known brand prefix and a valid Luhn digit."""
    for m in _CARD.finditer(text):
        d = re.sub(r"\D", "", m.group(0))
        if 13 <= len(d) <= 19 and _card_brand_ok(d) and luhn_ok(d):
            yield (m.start(), m.end(), "card")


def ibans(text: str, lowered: str) -> Iterator[Span]:
    """IBANs with a valid mod-97 check."""
    for m in _IBAN.finditer(text):
        if iban_ok(m.group(0).replace(" ", "")):
            yield (m.start(), m.end(), "iban")


def ssns(text: str, lowered: str) -> Iterator[Span]:
    """US social security numbers written as AAA-GG-SSSS."""
    if "-" in text:
        for m in _SSN.finditer(text):
            yield (m.start(), m.end(), "ssn")


def ips(text: str, lowered: str) -> Iterator[Span]:
    """Public IPv4 and global-unicast IPv6 addresses (private and loopback ones are kept)."""
    if "." in text:
        for m in _IPV4.finditer(text):
            if _VERSION_BEFORE.search(text, max(0, m.start() - 10), m.start()):
                continue
            if ipaddress.IPv4Address(m.group(0)).is_global:
                yield (m.start(), m.end(), "ip")
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6.finditer(text):
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
