"""Tests for the Redactor engine: API, offsets, merging, windows, config and extra patterns."""

from __future__ import annotations

import pytest

from policy.redaction import Finding, RedactionConfig, Redactor

TOKEN = "ghp_wnhfq1g8i01xyjcei3hxqqstls4hwgb21n6x"


def test_findings_index_the_original_text() -> None:
    """Finding offsets point at the secret in the input, and counts add up."""
    text = f"a {TOKEN} b bob@example.org"
    result = Redactor().redact(text)
    assert result.text == "a [REDACTED:github_token] b [REDACTED:email]"
    assert result.findings[0] == Finding(kind="github_token", start=2, end=2 + len(TOKEN))
    assert text[result.findings[1].start : result.findings[1].end] == "bob@example.org"
    assert dict(result.counts) == {"github_token": 1, "email": 1}
    assert result.changed


def test_clean_text_is_returned_unchanged() -> None:
    """Text with nothing to redact comes back as is, with no findings."""
    result = Redactor().redact("all good: 3 files, 0 errors")
    assert result.text == "all good: 3 files, 0 errors"
    assert result.findings == ()
    assert not result.changed


def test_overlapping_findings_merge_into_one_placeholder() -> None:
    """A value found by two detectors is replaced once."""
    r = Redactor(known_secrets={"GH": TOKEN})
    result = r.redact(f"GITHUB_TOKEN={TOKEN}")
    assert result.text.count("[REDACTED:") == 1
    assert TOKEN not in result.text


def test_redaction_is_idempotent() -> None:
    """Redacting redacted text changes nothing more."""
    r = Redactor()
    once = r.redact_text(f"password=hunter2hunter2 token {TOKEN} +44 20 7946 0958")
    assert r.redact_text(once) == once


@pytest.mark.parametrize("offset", [0, 1, 5, 20, 39], ids=lambda o: f"cut+{o}")
def test_secret_crossing_a_window_edge_is_caught(offset: int) -> None:
    """Input longer than max_input is windowed with overlap; an edge-crossing secret is found."""
    config = RedactionConfig(max_input=4096, window_overlap=256)
    filler = "x " * 2048
    text = "x" * (4095 - offset) + " " + TOKEN + " " + filler
    result = Redactor(config).redact(text)
    assert TOKEN not in result.text
    assert result.counts == {"github_token": 1}


def test_long_input_is_processed_to_the_end() -> None:
    """Nothing past max_input is skipped: a secret at the very end is still redacted."""
    config = RedactionConfig(max_input=4096, window_overlap=128)
    text = "ok " * 20000 + TOKEN
    result = Redactor(config).redact(text)
    assert result.text.endswith("[REDACTED:github_token]")
    assert result.findings[0].start == len(text) - len(TOKEN)


def test_extra_patterns_from_config() -> None:
    """Operator patterns add their own kinds."""
    config = RedactionConfig(extra_patterns=(("employee_id", r"EMP-\d{6}"),))
    assert Redactor(config).redact_text("by EMP-123456") == "by [REDACTED:employee_id]"


def test_bad_extra_pattern_names_the_pattern_not_the_text() -> None:
    """A pattern that does not compile is rejected with its name."""
    with pytest.raises(ValueError, match="employee_id"):
        Redactor(RedactionConfig(extra_patterns=(("employee_id", r"EMP-(\d"),)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pii": frozenset({"email", "dna"})},
        {"max_input": 10},
        {"window_overlap": -1},
        {"placeholder": "***"},
    ],
    ids=["unknown pii kind", "tiny max_input", "negative overlap", "placeholder without kind"],
)
def test_invalid_config_is_rejected(kwargs: dict[str, object]) -> None:
    """RedactionConfig refuses values that would make redaction unsafe or meaningless."""
    with pytest.raises(ValueError):
        RedactionConfig(**kwargs)  # type: ignore[arg-type]


def test_secrets_can_be_switched_off_but_known_values_stay() -> None:
    """With format detection off, known values are still redacted."""
    r = Redactor(
        RedactionConfig(secrets=False, pii=frozenset()), known_secrets={"K": "known-value-1"}
    )
    assert r.redact_text(f"{TOKEN} known-value-1") == f"{TOKEN} [REDACTED:known_secret]"


def test_custom_placeholder() -> None:
    """The placeholder template is configurable."""
    r = Redactor(RedactionConfig(placeholder="<{kind}>"))
    assert r.redact_text(TOKEN) == "<github_token>"
