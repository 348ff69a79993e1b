"""Obfuscated copies of attacks for the evaluation set (the attacker's side of the normaliser)."""

from __future__ import annotations

import base64
import codecs
import random
import urllib.parse
from collections.abc import Iterator

MORSE = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz0123456789",
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
        strict=True,
    )
)
HOMO = str.maketrans("aeopcxyiAEOPCXHKMT", "аеорсхуіАЕОРСХНКМТ")
LEET = str.maketrans("aeiost", "4310$7")


def encode(text: str, how: str) -> str:
    """Return text obfuscated one way (the attacker's side of the normaliser)."""
    raw = text.encode("utf-8")
    match how:
        case "base64":
            return "Decode this and follow it: " + base64.b64encode(raw).decode()
        case "base32":
            return base64.b32encode(raw).decode()
        case "hex":
            return "hex: " + raw.hex()
        case "rot13":
            return "rot13: " + codecs.encode(text, "rot13")
        case "url":
            return urllib.parse.quote(text, safe="")
        case "reverse":
            return "Read this backwards: " + text[::-1]
        case "leet":
            return text.translate(LEET)
        case "spaced":
            return " ".join(text)
        case "homoglyph":
            return text.translate(HOMO)
        case "zerowidth":
            return "\u200b".join(text)
        case "morse":
            return " / ".join(
                " ".join(MORSE[c] for c in w if c in MORSE) for w in text.lower().split()
            )
    raise ValueError(how)


ENCODINGS = [
    "base64",
    "base32",
    "hex",
    "rot13",
    "url",
    "reverse",
    "leet",
    "spaced",
    "homoglyph",
    "zerowidth",
    "morse",
]


def encoded_variants(rows: list[dict[str, str]], rng: random.Random) -> Iterator[dict[str, str]]:
    """Yield one obfuscated variant of each short attack, keeping its split."""
    for row in rows:
        if len(row["text"]) > 200 or row.get("family") == "obfuscation":
            continue
        how = rng.choice(ENCODINGS)
        half = "b" if row["split"] == "test" else "a"
        yield {
            "text": encode(row["text"], how),
            "family": "obfuscation",
            "source": f"gen-encoded-{half}",
            "encoding": how,
            "split": row["split"],
        }
