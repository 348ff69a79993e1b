"""Secret and personal-data redaction: known values, credential formats, PII.

Pure: imports nothing of ours, does no I/O. `Redactor(config, known_secrets=...)` is built once
and reused; `redact(text)` returns the text with typed placeholders and the findings.
One detector family per module: `known`, `cloud`, `vcs`, `chat`, `saas`, `structured`,
`assignment`, `pii`; `names` decides which identifiers hold secrets; `triggers` finds many
literals in a few passes; `engine` runs the detectors over bounded windows and merges their
spans.
"""

from __future__ import annotations

from .engine import Redactor
from .names import is_secret_name
from .types import ALL_PII, Finding, RedactionConfig, RedactionResult

__all__ = [
    "ALL_PII",
    "Finding",
    "RedactionConfig",
    "RedactionResult",
    "Redactor",
    "is_secret_name",
]
