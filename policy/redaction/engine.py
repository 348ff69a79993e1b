"""The Redactor: runs every detector over bounded windows, merges spans, writes placeholders.

    text -> windows of max_input chars (overlapping) -> detectors -> spans -> merge -> output

Spans from all detectors are merged (overlaps and neighbours joined; the earliest, longest
span names the kind) and each merged span becomes one placeholder such as
`[REDACTED:aws_access_key]`.

Cost: each window is lowered once; the format rules' triggers and the assignment hints are
found in a few regex passes shared between them (`_Secrets`), the PII kinds share one shape
view (`pii.PiiScan`), and nothing derived from a text outlives the call.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

from .assignment import HINT_GUARDS, HINTS, assignments_at
from .base import Detector, RuleSet, Span
from .chat import CHAT, discord_tokens
from .cloud import CLOUD
from .known import KnownSecrets
from .pii import PiiScan
from .saas import SAAS
from .structured import STRUCTURED, kubernetes_secrets, private_keys
from .triggers import TriggerScan
from .types import Finding, RedactionConfig, RedactionResult
from .vcs import VCS

__all__ = ["FORMATS", "SECRET_DETECTORS", "Redactor"]

FORMATS = RuleSet([*CLOUD.rules, *VCS.rules, *CHAT.rules, *SAAS.rules, *STRUCTURED.rules])
"""Every format family as one rule set, so their trigger literals are looked up in one pass."""


class _Secrets:
    """Credential formats, Discord and Kubernetes secrets, and secret assignments, in that order.

    The format rules' case-insensitive triggers and the assignment hints are found together,
    in one set of passes over the lowered text.
    """

    def __init__(self) -> None:
        guards = {**FORMATS.lowered_guards, **HINT_GUARDS}
        # A word that is both a format trigger and a hint is guarded only if both agree.
        for word in set(FORMATS.lowered_triggers) & set(HINTS):
            if FORMATS.lowered_guards.get(word) != HINT_GUARDS.get(word):
                guards.pop(word, None)
        self._lowered = TriggerScan([*FORMATS.lowered_triggers, *HINTS], guards)

    def __call__(self, text: str, lowered: str) -> Iterator[Span]:
        found_low = self._lowered.positions(lowered)
        yield from FORMATS.run(text, found_low)
        yield from discord_tokens(text, lowered)
        yield from kubernetes_secrets(text, lowered)
        yield from assignments_at(text, lowered, found_low)


SECRET_DETECTORS: tuple[Detector, ...] = (private_keys, _Secrets())


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)


class _Extra:
    """Operator-supplied `(kind, regex)` patterns."""

    def __init__(self, patterns: Iterable[tuple[str, str]]) -> None:
        compiled = []
        for kind, regex in patterns:
            try:
                compiled.append((kind, re.compile(regex)))
            except re.error as exc:
                raise ValueError(
                    f"redaction pattern {kind!r} does not compile: {exc.msg}"
                ) from None
        self.patterns = tuple(compiled)

    def __call__(self, text: str, lowered: str) -> Iterator[Span]:
        for kind, pattern in self.patterns:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    yield (m.start(), m.end(), kind)


def _merge(spans: list[Span]) -> list[Span]:
    spans.sort(key=lambda s: (s[0], -s[1]))
    merged: list[Span] = []
    for start, end, kind in spans:
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            if end > last[1]:
                merged[-1] = (last[0], end, last[2])
        else:
            merged.append((start, end, kind))
    return merged


class Redactor:
    """Replaces secrets and personal data in text with typed placeholders. Pure and thread-safe."""

    def __init__(
        self,
        config: RedactionConfig | None = None,
        *,
        known_secrets: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config or RedactionConfig()
        self._known_values: dict[str, str] = dict(known_secrets or {})
        self._known = KnownSecrets(self._known_values, min_length=self.config.min_known_length)
        detectors: list[Detector] = []
        if self._known:
            detectors.append(self._known)
        if self.config.secrets:
            detectors.extend(SECRET_DETECTORS)
        if self.config.extra_patterns:
            detectors.append(_Extra(self.config.extra_patterns))
        if self.config.pii:
            detectors.append(PiiScan(self.config.pii))
        self._detectors = tuple(detectors)

    def with_secrets(self, secrets: Mapping[str, str]) -> Redactor:
        """A new Redactor that also knows these values (e.g. secrets handed to one tool run)."""
        return Redactor(self.config, known_secrets={**self._known_values, **secrets})

    def _scan(self, text: str, offset: int) -> Iterator[Span]:
        lowered = _lower(text)
        for detector in self._detectors:
            for start, end, kind in detector(text, lowered):
                yield (start + offset, end + offset, kind)

    def spans(self, text: str) -> list[Span]:
        """Merged `(start, end, kind)` spans of everything to redact, over bounded windows."""
        size = self.config.max_input
        spans: list[Span] = []
        if len(text) <= size:
            spans.extend(self._scan(text, 0))
        else:
            step = size - self.config.window_overlap
            pos = 0
            while pos < len(text):
                spans.extend(self._scan(text[pos : pos + size], pos))
                if pos + size >= len(text):
                    break
                pos += step
        return _merge(spans)

    def redact(self, text: str) -> RedactionResult:
        """Redact `text`; findings index the original text."""
        merged = self.spans(text)
        if not merged:
            return RedactionResult(text=text)
        parts: list[str] = []
        last = 0
        template = self.config.placeholder
        for start, end, kind in merged:
            parts.append(text[last:start])
            parts.append(template.format(kind=kind))
            last = end
        parts.append(text[last:])
        findings = tuple(Finding(kind=k, start=s, end=e) for s, e, k in merged)
        return RedactionResult(
            text="".join(parts), findings=findings, counts=dict(Counter(k for _, _, k in merged))
        )

    def redact_text(self, text: str) -> str:
        """Convenience: only the redacted text."""
        return self.redact(text).text
