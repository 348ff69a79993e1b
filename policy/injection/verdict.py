"""Values of the injection scanner: threat levels, actions, the verdict and the config.

A scan sums the weights of the rules that fired into a score; the score and the
rules' own floors give a ThreatLevel; the config maps each level to an Action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from policy.reasons import Reason

__all__ = [
    "Action",
    "ScannerConfig",
    "ThreatLevel",
    "Verdict",
    "default_actions",
    "level_for_score",
    "reason_for",
]


class ThreatLevel(IntEnum):
    """How likely a text is an injection or jailbreak attempt, and how harmful."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3


class Action(StrEnum):
    """What the pipeline does with a request at a given threat level."""

    ALLOW = "allow"
    WARN = "warn"
    REQUIRE_APPROVAL = "require_approval"
    BLOCK = "block"


# Score thresholds: a weak signal weighs 1, a medium one 2, a strong one 4, a critical one 7.
MEDIUM_AT = 2.0
HIGH_AT = 4.0
CRITICAL_AT = 7.0


def level_for_score(score: float) -> ThreatLevel:
    """Return the threat level a summed score reaches."""
    if score >= CRITICAL_AT:
        return ThreatLevel.CRITICAL
    if score >= HIGH_AT:
        return ThreatLevel.HIGH
    if score >= MEDIUM_AT:
        return ThreatLevel.MEDIUM
    return ThreatLevel.LOW


_REASONS = {
    Action.ALLOW: Reason.INJECTION_ALLOW,
    Action.WARN: Reason.INJECTION_WARN,
    Action.REQUIRE_APPROVAL: Reason.INJECTION_ESCALATE,
    Action.BLOCK: Reason.INJECTION_BLOCK,
}


def reason_for(action: Action) -> Reason:
    """Return the audit reason code for an injection action."""
    return _REASONS[action]


def default_actions() -> dict[ThreatLevel, Action]:
    """Return the default level-to-action map: allow, warn, require approval, block."""
    return {
        ThreatLevel.LOW: Action.ALLOW,
        ThreatLevel.MEDIUM: Action.WARN,
        ThreatLevel.HIGH: Action.REQUIRE_APPROVAL,
        ThreatLevel.CRITICAL: Action.BLOCK,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The outcome of one scan.

    `checks` names the check families that fired (e.g. "override", "obfuscation"),
    `rules` the individual rules, `decoded` whether an encoded payload was decoded
    and scanned, `truncated` whether the input exceeded what the scanner may read
    (then the check "input_too_large" is among the checks).
    """

    level: ThreatLevel
    checks: tuple[str, ...]
    score: float
    decoded: bool = False
    truncated: bool = False
    rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ScannerConfig:
    """Settings of a Scanner.

    extra_patterns: (name, regex, level) triples; a match raises the verdict to at
    least that level. Regexes are matched against the normalised text (lower case,
    accents and look-alikes folded) and must be linear (no nested quantifiers).
    max_input: characters scanned in one window; longer input is scanned in
    overlapping windows up to max_windows, and beyond that the verdict is at least
    oversize_level with truncated=True. max_decode_depth bounds nested decoding,
    max_decode_bytes the total decoded text per scan.
    """

    extra_patterns: tuple[tuple[str, str, ThreatLevel], ...] = ()
    max_input: int = 65536
    max_windows: int = 16
    max_decode_depth: int = 3
    max_decode_bytes: int = 262144
    oversize_level: ThreatLevel = ThreatLevel.HIGH
    actions: dict[ThreatLevel, Action] = field(default_factory=default_actions)

    def __post_init__(self) -> None:
        """Refuse settings that would make the scanner unbounded or leave a level unmapped."""
        if self.max_input < 256:
            raise ValueError("max_input must be at least 256")
        if self.max_windows < 1 or self.max_decode_depth < 0 or self.max_decode_bytes < 0:
            raise ValueError("max_windows must be >= 1, decode limits >= 0")
        missing = [lvl.name for lvl in ThreatLevel if lvl not in self.actions]
        if missing:
            raise ValueError(f"actions has no entry for levels {missing}")

    def action_for(self, level: ThreatLevel) -> Action:
        """Return the configured action for a threat level."""
        return self.actions[level]
