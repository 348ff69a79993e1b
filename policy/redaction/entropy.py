"""Value heuristics shared by detectors: Shannon entropy, placeholders and "looks random".

These decide whether a candidate value is a real secret or a template (`${VAR}`, `<token>`,
`xxxxxxxx`, `AKIAIOSFODNN7EXAMPLE`), so they are the main defence against false positives.
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["entropy", "is_masked", "is_placeholder", "looks_random"]

_REFERENCE = re.compile(
    r"""^(?:\$\{|\$\(|\$[A-Za-z_]|\{\{|\{%|<[^>]*>?$|%\(|%[A-Za-z_]+%|%s$|#\{|\{[A-Za-z_][\w.]*\}?$|
        \[REDACTED|\*{3,}|ENC\[|os\.environ|process\.env|env\(|getenv|var\.|vault:|secret\(|ref\+|
        `[^`]*\s)""",
    re.VERBOSE,
)
_PLACEHOLDER_WORDS = (
    "example",
    "xxxx",
    "your_",
    "your-",
    "yourtoken",
    "placeholder",
    "redacted",
    "changeme",
    "fake",
    "dummy",
    "insert",
    "replace_me",
    "not_long_enough",
    "tooshort",
    "put_your",
    "here>",
    "abcdefghijklmnop",
    "qrstuvwxyz",
)


def entropy(value: str) -> float:
    """Shannon entropy of `value` in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def is_masked(value: str) -> bool:
    """True for empty values, masks (`xxxx`, `****`), `EXAMPLE` keys and runs of one character."""
    v = value.strip().strip("\"'`")
    if not v or not any(ch.isalnum() for ch in v) or "EXAMPLE" in v:
        return True
    if len(v) >= 4:
        common = Counter(v).most_common(1)[0][1]
        if common * 10 >= len(v) * 6:
            return True
        masked = sum(1 for ch in v if ch in "xX*#")
        if masked * 2 >= len(v):
            return True
    return False


def is_placeholder(value: str) -> bool:
    """True for masks, templates (`${VAR}`, `<token>`, `%s`) and words like `your_token_here`."""
    v = value.strip().strip("\"'`")
    if is_masked(v) or _REFERENCE.match(v) or v.endswith("..."):
        return True
    low = v.lower()
    return any(w in low for w in _PLACEHOLDER_WORDS)


def looks_random(value: str, *, min_len: int = 10, min_entropy: float = 3.0) -> bool:
    """True when `value` is long enough, not a placeholder, and varied like a generated key."""
    if len(value) < min_len or is_placeholder(value):
        return False
    has_digit = any(ch.isdigit() for ch in value)
    has_alpha = any(ch.isalpha() for ch in value)
    if not has_alpha:
        return has_digit and len(value) >= 12 and entropy(value) >= 2.5
    return entropy(value) >= min_entropy or (has_digit and has_alpha and entropy(value) >= 2.5)
