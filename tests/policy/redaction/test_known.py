"""Tests for exact known secret values and their encodings."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from policy.redaction import RedactionConfig, Redactor

SECRET = "s3cr3t/val+ue=Q9"
R = Redactor(RedactionConfig(pii=frozenset(), secrets=False), known_secrets={"TOOL_SECRET": SECRET})

ENCODINGS = [
    ("raw", SECRET),
    ("base64", base64.b64encode(SECRET.encode()).decode()),
    ("base64 without padding", base64.b64encode(SECRET.encode()).decode().rstrip("=")),
    ("urlsafe base64", base64.urlsafe_b64encode(SECRET.encode()).decode()),
    ("url encoded", quote(SECRET, safe="")),
    ("hex", SECRET.encode().hex()),
    ("upper hex", SECRET.encode().hex().upper()),
    ("json escaped", SECRET.replace("/", "\\/")),
    ("split by newline", SECRET[:7] + "\n    " + SECRET[7:]),
    ("split by zero-width spaces", "\u200b".join(SECRET)),
    ("split by spaces", " ".join(SECRET[i : i + 4] for i in range(0, len(SECRET), 4))),
]


@pytest.mark.parametrize("form", [c[1] for c in ENCODINGS], ids=[c[0] for c in ENCODINGS])
def test_known_secret_in_any_encoding_is_redacted(form: str) -> None:
    """A known value is found raw, encoded or wrapped."""
    result = R.redact(f"output: {form} done")
    assert result.text == "output: [REDACTED:known_secret] done"
    assert result.counts == {"known_secret": 1}


@pytest.mark.parametrize("prefix", ["", "u:", "ab:"], ids=["offset 0", "offset 2", "offset 3"])
def test_known_secret_inside_a_longer_base64_blob_is_redacted(prefix: str) -> None:
    """A value encoded together with other bytes (e.g. Basic auth) is found at any alignment."""
    blob = base64.b64encode(f"{prefix}{SECRET}:tail-bytes".encode()).decode()
    result = R.redact(f"hdr {blob}")
    assert result.counts == {"known_secret": 1}
    assert base64.b64encode(SECRET.encode()).decode()[4:12] not in result.text


@pytest.mark.parametrize("short", ["", "a", "abc", "12345", "     x"], ids=repr)
def test_short_known_values_are_ignored_without_error(short: str) -> None:
    """Values too short to be meaningful are ignored, and never crash."""
    r = Redactor(RedactionConfig(pii=frozenset(), secrets=False), known_secrets={"X": short})
    assert r.redact_text("abc 12345 a") == "abc 12345 a"


def test_with_secrets_adds_values_without_changing_the_original() -> None:
    """with_secrets returns a new Redactor that knows more; the old one is unchanged."""
    more = R.with_secrets({"RUN_TOKEN": "per-run-value-77"})
    assert more.redact_text("per-run-value-77 and " + SECRET).count("[REDACTED:known_secret]") == 2
    assert R.redact_text("per-run-value-77") == "per-run-value-77"


def test_known_value_with_regex_metacharacters() -> None:
    """Values are matched literally, not as patterns."""
    r = Redactor(known_secrets={"X": "a.b*c(d)+e?"})
    assert r.redact_text("x a.b*c(d)+e? y") == "x [REDACTED:known_secret] y"
    assert r.redact_text("x aXbbbcdde y") == "x aXbbbcdde y"


def test_every_split_occurrence_is_redacted() -> None:
    """Several whitespace-split copies of a known value in one text are all replaced."""
    split = " ".join(SECRET[i : i + 4] for i in range(0, len(SECRET), 4))
    text = f"first {split} then\n{split} and {split[:9]}"
    result = R.redact_text(text)
    assert result.count("[REDACTED:known_secret]") == 2
    assert result.endswith(split[:9])
