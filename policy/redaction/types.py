"""Values that cross the redaction boundary: the config, one finding, and a redaction result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ALL_PII", "Finding", "RedactionConfig", "RedactionResult"]

ALL_PII: frozenset[str] = frozenset({"email", "phone", "card", "iban", "ssn", "ip"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RedactionConfig:
    """What to redact and how much text to look at in one pass.

    `pii` names the personal-data kinds to redact (all by default); `extra_patterns` are
    `(kind, regex)` pairs from the operator's config; input longer than `max_input` is processed
    in windows of that size overlapping by `window_overlap` characters, so nothing is skipped.
    """

    pii: frozenset[str] = ALL_PII
    secrets: bool = True
    extra_patterns: tuple[tuple[str, str], ...] = ()
    max_input: int = 1 << 20
    window_overlap: int = 4096
    min_known_length: int = 6
    placeholder: str = "[REDACTED:{kind}]"

    def __post_init__(self) -> None:
        unknown = self.pii - ALL_PII
        if unknown:
            raise ValueError(
                f"unknown PII kinds: {sorted(unknown)}; expected some of {sorted(ALL_PII)}"
            )
        if self.max_input < 1024:
            raise ValueError("max_input must be at least 1024 characters")
        if not 0 <= self.window_overlap <= self.max_input // 2:
            raise ValueError("window_overlap must be between 0 and max_input / 2")
        if "{kind}" not in self.placeholder:
            raise ValueError("placeholder must contain {kind}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One redacted span; `start`/`end` index the original text. Never holds the value."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RedactionResult:
    """The redacted text, what was found where, and how many findings of each kind."""

    text: str
    findings: tuple[Finding, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether anything was redacted."""
        return bool(self.findings)
