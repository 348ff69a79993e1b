"""Finding and decoding encoded payloads inside a text, so the scanner can read them too.

Segment decoders (base64, base32, hex, binary, Morse) look for a long run of their
alphabet and decode each run; whole-text decoders (percent/URL, quoted-printable,
HTML entities, backslash escapes) apply when the text carries enough of their
escapes. rot13 and reversed text are not found here: the scanner tries them when
the text's words look like rotated or reversed attack words. Only decodings that
are readable text are returned. Every regex is linear; each decoder is gated by a
cheap check so that ordinary chat pays almost nothing.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import quopri
import re
import urllib.parse
from itertools import compress

from policy.injection.normalize import suspect_lines

__all__ = ["decode_payloads", "readable", "reverse_text", "rot13"]

_B64 = re.compile(r"[A-Za-z0-9+/_\-]{16,}={0,2}")
_B32 = re.compile(r"[A-Z2-7]{16,}={0,6}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}[ :,\-]?){10,}")
_BIN = re.compile(r"(?:[01]{8}[ ]?){4,}")
_MORSE = re.compile(r"(?:[.\-]{1,7}(?: / | {1,3}|/)){5,}[.\-]{1,7}")
_PCT = re.compile(r"%[0-9a-fA-F]{2}")
_QP = re.compile(r"=[0-9A-F]{2}")
_ENT = re.compile(r"&#?\w{1,8};")
_ESC = re.compile(r"\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2})")
_HEX_HINT = re.compile(r"[0-9a-fA-F]{20}")
_HEX_SPACED_HINT = re.compile(r"[0-9a-fA-F]{2}[ :,\-][0-9a-fA-F]{2}[ :,\-][0-9a-fA-F]{2}[ :,\-]")
# Inside every spaced hint, found faster (separators are rarer than hex digits).
_HEX_SEP_HINT = re.compile(r"[ :,\-][0-9a-fA-F]{2}[ :,\-][0-9a-fA-F]{2}[ :,\-]")
_A85 = re.compile(r"<~[!-u\s]{10,}~>")
_B85 = re.compile(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{30,}")
_MORSE_GATE = re.compile(r"[.\-]{1,7} [.\-]{1,7} [.\-]{1,7} [.\-]")
_B64_HINT = re.compile(r"[0-9+/]")
_MORSE_PAIR = re.compile(r"[.\-] [.\-]")
_MORSE_PAIRS = (". .", ". -", "- .", "- -")  # the same, by fast substring search
_HEXSEP = re.compile(r"[ :,\-]")

_MORSE_TABLE = dict(
    zip(
        [
            ".-",
            "-...",
            "-.-.",
            "-..",
            ".",
            "..-.",
            "--.",
            "....",
            "..",
            ".---",
            "-.-",
            ".-..",
            "--",
            "-.",
            "---",
            ".--.",
            "--.-",
            ".-.",
            "...",
            "-",
            "..-",
            "...-",
            ".--",
            "-..-",
            "-.--",
            "--..",
            "-----",
            ".----",
            "..---",
            "...--",
            "....-",
            ".....",
            "-....",
            "--...",
            "---..",
            "----.",
        ],
        "abcdefghijklmnopqrstuvwxyz0123456789",
        strict=True,
    )
)
MAX_SEGMENTS = 16
_AT_LEAST_16 = (15).__lt__
LONG = 2048


def readable(data: bytes) -> str | None:
    """Return data as text if it is UTF-8 and mostly letters, digits, spaces and punctuation."""
    if len(data) < 6:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    good = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    letters = sum(1 for c in text if c.isalpha())
    if good < 0.95 * len(text) or letters < 0.5 * len(text):
        return None
    return text


def _b64(seg: str) -> bytes | None:
    """Decode standard or URL-safe base64, padding as needed; None if it is not base64."""
    s = seg.rstrip("=")
    s += "=" * (-len(s) % 4)
    try:
        if "-" in s or "_" in s:
            return base64.urlsafe_b64decode(s)
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None


def _b32(seg: str) -> bytes | None:
    """Decode base32, padding as needed; None if it is not base32."""
    s = seg.rstrip("=")
    s += "=" * (-len(s) % 8)
    try:
        return base64.b32decode(s)
    except (binascii.Error, ValueError):
        return None


def _morse(seg: str) -> str | None:
    """Decode Morse code with '/' or wide gaps between words."""
    out = []
    for word in re.split(r" / |/| {2,}", seg):
        letters = [_MORSE_TABLE.get(code) for code in word.split()]
        if None in letters:
            return None
        out.append("".join(c for c in letters if c))
    text = " ".join(out)
    return text if len(text) >= 4 else None


def _morse_text(text: str) -> str:
    """Return the part of text that may hold Morse code ("" if none).

    _MORSE_GATE needs a code, a space and a code (_MORSE_PAIR, found fast); Morse runs
    hold no newline, so a long text is read only on the lines with such a pair.
    """
    if (".-" not in text and "-." not in text) or not any(p in text for p in _MORSE_PAIRS):
        return ""
    part = suspect_lines(text, _MORSE_PAIR) if len(text) > LONG else text
    if (".-" not in part and "-." not in part) or not _MORSE_GATE.search(part):
        return ""
    return part


def _segments(text: str) -> list[tuple[str, str]]:
    """Return (kind, decoded) for each run of an encoding alphabet that decodes to text."""
    found: list[tuple[str, str]] = []
    long_text = len(text) > LONG
    # Runs of the base64, base32 and unspaced hex alphabets hold no whitespace: in a long
    # text they are looked for only in its long whitespace-separated tokens.
    if long_text:
        toks = text.split()
        runs = "\n".join(compress(toks, map(_AT_LEAST_16, map(len, toks))))
    else:
        runs = text
    if len(text) >= 16:
        for m in _B64.finditer(runs):
            seg = m.group()
            if long_text and not _B64_HINT.search(seg):
                continue  # in a long text, only runs with a digit, + or / (CamelCase is not base64)
            if seg.lower() == seg:
                continue  # an identifier or a word, not base64 (base64 mixes cases)
            if seg.upper() == seg:
                continue  # base32 or a constant: the base32 pass below reads it
            raw = _b64(seg)
            dec = readable(raw) if raw else None
            if dec:
                found.append(("base64", dec))
            if len(found) >= MAX_SEGMENTS:
                return found
        if _B32.search(runs):
            for m in _B32.finditer(runs):
                raw = _b32(m.group())
                dec = readable(raw) if raw else None
                if dec and ("base32", dec) not in found:
                    found.append(("base32", dec))
        if long_text:  # spaced hex: the lines with a hint; unspaced: the long tokens
            spaced = suspect_lines(text, _HEX_SEP_HINT)
            hexy = spaced + "\n" + suspect_lines(runs, _HEX_HINT)
        else:
            hexy = text if _HEX_HINT.search(text) or _HEX_SPACED_HINT.search(text) else ""
        for m in _HEX.finditer(hexy) if hexy else ():
            hexs = _HEXSEP.sub("", m.group())
            if len(hexs) % 2:
                hexs = hexs[:-1]
            dec = readable(bytes.fromhex(hexs))
            if dec and ("hex", dec) not in found:  # a long text's run may be read twice
                found.append(("hex", dec))
    if "<~" in text:
        for m in _A85.finditer(text):
            try:
                raw = base64.a85decode(m.group(), adobe=True, ignorechars=b" \t\n\r")
            except ValueError:
                continue
            dec = readable(raw)
            if dec:
                found.append(("ascii85", dec))
    for m in _B85.finditer(text) if 30 <= len(text) <= LONG else ():  # rare: short text only
        seg = m.group()
        if sum(1 for c in seg[:64] if not c.isalnum()) < 4 or len(found) >= MAX_SEGMENTS:
            continue
        try:
            raw = base64.b85decode(seg[: len(seg) - len(seg) % 5])
        except ValueError:
            continue
        dec = readable(raw)
        if dec:
            found.append(("base85", dec))
    if "01100" in text or "01110" in text or "01000" in text:
        for m in _BIN.finditer(text):
            bits = m.group().replace(" ", "")
            raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
            dec = readable(raw)
            if dec:
                found.append(("binary", dec))
    morse = _morse_text(text) if ".-" in text or "-." in text else ""
    if morse:
        for m in _MORSE.finditer(morse):
            dec = _morse(m.group())
            if dec:
                found.append(("morse", dec))
    return found[:MAX_SEGMENTS]


def _escapes(m: re.Match[str]) -> str:
    """Turn one \\uXXXX or \\xXX escape into its character."""
    return chr(int(m.group()[2:], 16))


def _only(text: str, regex: re.Pattern[str]) -> str:
    """Return the lines of a long text that carry an escape of one kind."""
    return suspect_lines(text, regex)


def _whole(text: str) -> list[tuple[str, str]]:
    """Return (kind, decoded) for whole-text escapes: percent, quoted-printable, entities.

    A long text is decoded only on its lines that carry such escapes.
    """
    found: list[tuple[str, str]] = []
    if "%" in text and len(_PCT.findall(text)) >= 3:
        part = _only(text, _PCT)
        dec = urllib.parse.unquote(part.replace("+", " "))
        text = part
        if dec != text and "\ufffd" not in dec and all(c.isprintable() or c in "\n\t" for c in dec):
            found.append(("url", dec))
    if "=" in text and len(_QP.findall(text)) >= 3:
        text = _only(text, _QP)
        try:
            raw = quopri.decodestring(text.encode("utf-8", "replace"))
            dec = raw.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            dec = ""
        if dec and dec != text:
            found.append(("quoted-printable", dec))
    if "&" in text and len(_ENT.findall(text)) >= 3:
        text = _only(text, _ENT)
        dec = html.unescape(text)
        if dec != text:
            found.append(("html", dec))
    if "\\" in text and len(_ESC.findall(text)) >= 3:
        text = _only(text, _ESC)
        found.append(("escape", _ESC.sub(_escapes, text)))
    return found


def decode_payloads(text: str) -> list[tuple[str, str]]:
    """Return (kind, decoded text) for every readable payload found in text."""
    return _segments(text) + _whole(text)


def rot13(text: str) -> str:
    """Return text with rot13 undone."""
    return codecs.decode(text, "rot13")


def reverse_text(text: str) -> str:
    """Return text read backwards."""
    return text[::-1]
