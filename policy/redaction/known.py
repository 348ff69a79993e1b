"""Exact known secret values, also base64-, URL-, JSON- or hex-encoded, or split by whitespace.

Base64 is matched at all three alignments, so a value inside a longer encoded blob (a Basic
auth header, a Kubernetes secret, a `user:password` pair) is found too.

Built once per set of values: each value yields its encoded variants (found with `str.find`)
and a whitespace-tolerant pattern, run only when a 4-character piece of the value occurs.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from urllib.parse import quote, quote_plus

from .base import Span

__all__ = ["KnownSecrets"]

_GAP = r"[ \t\r\n\u200b\u200c\u200d\u2060\ufeff]{0,16}"
"""What may sit between the characters of a split value: whitespace and zero-width marks."""
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 text of `raw` at each of the three byte alignments it can have inside a longer
    encoded blob, cut to the characters that depend on `raw` alone."""
    out: set[str] = set()
    for offset in range(3):
        enc = base64.b64encode(b"\0" * offset + raw).decode().rstrip("=")
        start = (4 * offset + 2) // 3
        total = offset + len(raw)
        end = (total // 3) * 4 + (4 * (total % 3)) // 3
        core = enc[start:end]
        if len(core) >= 8:
            out.add(core)
            out.add(core.replace("+", "-").replace("/", "_"))
    return out


def _variants(value: str) -> set[str]:
    raw = value.encode()
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    out = {
        value,
        quote(value, safe=""),
        quote_plus(value),
        raw.hex(),
        raw.hex().upper(),
        escaped,
        escaped.replace("/", "\\/"),
    }
    for enc in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        out.add(enc)
        out.add(enc.rstrip("="))
    out |= _base64_cores(raw)
    return {v for v in out if v}


class KnownSecrets:
    """Finds every occurrence of the values it was given, in any of their common encodings."""

    def __init__(self, values: Mapping[str, str], *, min_length: int = 6) -> None:
        self.values = {k: v for k, v in values.items() if isinstance(v, str)}
        usable = sorted(
            {v for v in self.values.values() if len(v.strip()) >= min_length}, key=len, reverse=True
        )
        self._plain: tuple[str, ...] = tuple(
            sorted({var for v in usable for var in _variants(v)}, key=len, reverse=True)
        )
        self._split: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
            (
                tuple(v[i : i + 4] for i in range(0, len(v) - 3, 4)),
                re.compile(_GAP.join(re.escape(ch) for ch in v if not ch.isspace())),
            )
            for v in usable
        )

    def __bool__(self) -> bool:
        return bool(self._plain)

    def __call__(self, text: str, lowered: str) -> Iterator[Span]:
        """Spans of known values and their encodings."""
        for needle in self._plain:
            pos = text.find(needle)
            while pos >= 0:
                yield (pos, pos + len(needle), "known_secret")
                pos = text.find(needle, pos + 1)
        hidden: bool | None = None
        for pieces, pattern in self._split:
            # The pattern's literal first character makes the search cheap; whether the value
            # may be split here (zero-width marks, or a 4-character piece of it somewhere) is
            # asked only once it matched, since each `in` scans the whole text.
            gate: bool | None = None
            for m in pattern.finditer(text):
                if gate is None:
                    if hidden is None:
                        hidden = any(mark in text for mark in _ZERO_WIDTH)
                    gate = hidden or any(p in text for p in pieces)
                if not gate:
                    break
                yield (m.start(), m.end(), "known_secret")
