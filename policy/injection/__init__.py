"""Prompt-injection scanner: scores a text on independent checks and maps the level to an action.

Pure and synchronous: imports nothing of ours but `policy`, does no I/O at scan time.
Checks: override, authority, boundary (fake prompt boundaries, chat-template tokens),
roleplay (jailbreak personas), extraction (system prompt), indirect (instructions aimed
at an agent inside documents and tool output), obfuscation, financial, destructive,
exfiltration, plus configured extra patterns ("custom"); "input_too_large" when the
input is longer than the scanner may read.

    from policy.injection import Scanner, ScannerConfig, ThreatLevel
    verdict = Scanner(ScannerConfig()).scan("ignore all previous instructions")
    verdict.level >= ThreatLevel.HIGH
"""

from __future__ import annotations

from policy.injection.scanner import Scanner
from policy.injection.verdict import (
    Action,
    ScannerConfig,
    ThreatLevel,
    Verdict,
    default_actions,
    level_for_score,
    reason_for,
)

__all__ = [
    "Action",
    "Scanner",
    "ScannerConfig",
    "ThreatLevel",
    "Verdict",
    "default_actions",
    "level_for_score",
    "reason_for",
]
