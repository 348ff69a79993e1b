"""The injection scanner: normalise, match the rules, undo tricks, decode payloads, score.

One scan of a window:
  1. canonical form (normalize.canonical) and its word keys;
  2. the rules the keys select (ruleset.RuleSet.match); a window longer than LONG is
     matched by longtext.LongMatcher instead, which reads each rule only at its lead
     words (or newlines, or marks) found in one pass, and the tricks and decoders
     below read only the lines that show them;
  3. readings that undo a trick the text shows (look-alikes, leetspeak, spacing, and
     rot13 or reversed text when the words look rotated or reversed); rules that fire
     only on such a reading also fire the "obfuscation" check;
  4. payloads found by the decoders, scanned recursively (bounded by depth and total
     decoded bytes); a payload that scores at least MEDIUM adds its rules and raises
     the "obfuscation" check by one level's worth;
  5. the score is the sum of the distinct rules' weights; the level follows from it,
     and never falls below the level of a configured extra pattern that matched.
Input longer than max_input is scanned in overlapping windows; past max_windows the
rest is not read and the verdict says so (truncated, "input_too_large").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policy.injection.anchors import lead_keys
from policy.injection.decoders import decode_payloads, reverse_text, rot13
from policy.injection.longtext import LongMatcher
from policy.injection.normalize import (
    LONG,
    canonical,
    signals,
    suspect_lines,
    variants,
    visible,
    words,
)
from policy.injection.rules_agent import AGENT
from policy.injection.rules_en import AUTHORITY, BOUNDARY, OVERRIDE
from policy.injection.rules_harm import DESTRUCTIVE, EXFILTRATION, FINANCIAL, OBFUSCATION
from policy.injection.rules_hijack import HIJACK
from policy.injection.rules_intl import (
    INTL_EXTRACTION,
    INTL_HARM,
    INTL_OVERRIDE,
    INTL_ROLEPLAY,
)
from policy.injection.rules_persona import EXTRACTION, ROLEPLAY
from policy.injection.ruleset import KEY_LEN, Rule, RuleSet
from policy.injection.verdict import (
    MEDIUM_AT,
    Action,
    ScannerConfig,
    ThreatLevel,
    Verdict,
    level_for_score,
)

__all__ = ["Scanner"]

# A quantified group that itself contains a quantifier: the shape of catastrophic backtracking.
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)(?:[+*]|\{\d*,)")


def _compile_extra(name: str, pattern: str) -> re.Pattern[str]:
    """Compile a configured extra pattern, refusing invalid or nested-quantifier regexes."""
    if _NESTED.search(pattern):
        raise ValueError(f"extra pattern {name!r} nests quantifiers (may backtrack badly)")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"extra pattern {name!r} is not a valid regex: {exc.msg}") from None


BUILTIN: tuple[Rule, ...] = (
    *OVERRIDE,
    *INTL_OVERRIDE,
    *AUTHORITY,
    *BOUNDARY,
    *ROLEPLAY,
    *INTL_ROLEPLAY,
    *EXTRACTION,
    *INTL_EXTRACTION,
    *FINANCIAL,
    *DESTRUCTIVE,
    *INTL_HARM,
    *EXFILTRATION,
    *AGENT,
    *HIJACK,
    *OBFUSCATION,
)
_ROT = str.maketrans("abcdefghijklmnopqrstuvwxyz", "nopqrstuvwxyzabcdefghijklm")
# Letters-only patterns for text whose letters were spaced apart and joined again.
_SQUASHED = re.compile(
    r"(?:ignore|disregard|forget)(?:all|any|the|your)?(?:previous|prior|above|earlier|"
    r"preceding)(?:instructions|prompts|rules|directions)|systemprompt|developermode|"
    r"doanythingnow|jailbreak|revealyour(?:system|initial|hidden)"
)
_ROT_HINT = re.compile(r"\brot-?13\b|\bcaesar\b")
_ROT_KEYS = frozenset({"rot", "rot1", "caes"})  # the words _ROT_HINT starts with
_REV_KEYS = frozenset({"back", "reve"})  # and _REV_HINT ("in reverse" has "reverse")
_REV_HINT = re.compile(r"\b(?:backwards?|reversed|in reverse|reverse (?:it|this|the text))\b")
# Second-person commands; a long text with many of them reads like a prompt for a model.
_DIRECTIVE = re.compile(
    r"\b(?:you (?:will|must|shall|should|are going to|have to|need to|are now|are no longer|"
    r"can't|cannot|won't|will never|will always|do not|don't)|do not|don't|never|always|"
    r"from now on|stay in|respond|reply|answer)\b"
)
_DIRECTIVE_AT = re.compile(_DIRECTIVE.pattern.removeprefix(r"\b"))
_DIRECTIVE_KEYS = lead_keys(_DIRECTIVE_AT.pattern) or frozenset()
DIRECTIVES = 4
DIRECTIVE_MIN_LEN = 150
DIRECTIVE_SPACING = 400  # at least one command per this many characters
OBFUSCATION_BUMP = 3.0  # an encoded payload that fires a check: one level higher
TRICK_WEIGHT = 2.0  # a rule that fires only after undoing a trick
OVERLAP = 1024
SCORE_UNIT = 1024  # in a long text, only signals this close together add up


@dataclass(slots=True)
class _Scan:
    """What one scan has found so far: rules by name, extra weights, and flags."""

    rules: dict[str, Rule] = field(default_factory=dict)
    extra: dict[str, tuple[str, float]] = field(default_factory=dict)
    floor: ThreatLevel = ThreatLevel.LOW
    decoded: bool = False
    budget: int = 0
    places: dict[str, list[int]] = field(default_factory=dict)  # where rules fired, long text

    def score(self) -> float:
        """Return the sum of the weights found; positioned rules count only if close together.

        Rules found in a long text carry positions: only those within one SCORE_UNIT of
        each other add up (the best such group counts). Everything else counts in full.
        """
        free = sum(r.weight for n, r in self.rules.items() if n not in self.places)
        free += sum(w for _, w in self.extra.values())
        if not self.places:
            return free
        events = sorted((p, n) for n, ps in self.places.items() for p in ps)
        inside: dict[str, int] = {}
        best = total = 0.0
        lo = 0
        for pos, name in events:
            if inside.get(name, 0) == 0:
                total += self.rules[name].weight
            inside[name] = inside.get(name, 0) + 1
            while events[lo][0] < pos - SCORE_UNIT:
                old = events[lo][1]
                inside[old] -= 1
                if inside[old] == 0:
                    total -= self.rules[old].weight
                lo += 1
            best = max(best, total)
        return free + best

    def add(self, rules: list[Rule]) -> list[Rule]:
        """Record rules and return the ones that were new."""
        new = [r for r in rules if r.name not in self.rules]
        for r in new:
            self.rules[r.name] = r
        return new

    def mark(self, name: str, check: str, weight: float) -> None:
        """Record a synthetic finding (an undone trick, a payload), keeping the largest weight."""
        if name not in self.extra or self.extra[name][1] < weight:
            self.extra[name] = (check, weight)


class Scanner:
    """Scores a text for prompt injection; pure, synchronous and bounded."""

    __slots__ = ("_anchor_keys", "_custom", "_long", "_rev_keys", "_rot_keys", "_rules", "config")

    def __init__(self, config: ScannerConfig | None = None) -> None:
        """Compile the built-in rules and the configured extra patterns."""
        self.config = config or ScannerConfig()
        self._rules = RuleSet(BUILTIN)
        self._long = LongMatcher(self._rules.rules, _DIRECTIVE_KEYS | _ROT_KEYS | _REV_KEYS)
        self._custom = tuple(
            (name, _compile_extra(name, pattern), ThreatLevel(level))
            for name, pattern, level in self.config.extra_patterns
        )
        self._anchor_keys = frozenset(
            key
            for rule in BUILTIN
            if rule.weight >= 2 and rule.check in {"override", "extraction", "roleplay"}
            for key in rule.keys
            if len(key) == KEY_LEN
        )
        # Keys whose rot13 or reversal is an anchor key: rotated or reversed attack words.
        self._rot_keys = frozenset(k.translate(_ROT) for k in self._anchor_keys if k.isascii())
        self._rev_keys = frozenset(k[::-1] for k in self._anchor_keys)

    def action(self, verdict: Verdict) -> Action:
        """Return the configured action for a verdict's level."""
        return self.config.action_for(verdict.level)

    def scan(self, text: str) -> Verdict:
        """Return the verdict for one text (an inbound message or a tool's output).

        Text is read in windows of max_input characters (overlapping); within a long window
        only signals within SCORE_UNIT characters of each other add up, so that weak signals
        far apart in a long document do not; the verdict is the worst window. At most
        max_input * max_windows characters are read; past that the verdict says so.
        """
        cfg = self.config
        limit = cfg.max_input * cfg.max_windows
        truncated = len(text) > limit
        body = text[:limit]
        unit = cfg.max_input
        step = unit - min(OVERLAP, unit // 4)
        starts = range(0, max(1, len(body) - (unit - step)), step) if len(body) > unit else [0]
        budget = cfg.max_decode_bytes
        units: list[tuple[float, _Scan]] = []
        for start in starts:
            state = _Scan(budget=budget)
            self._window(body[start : start + unit], 0, state)
            budget = state.budget
            units.append((state.score(), state))
        if len(units) == 1:
            score, merged = units[0]
        else:
            score, best = max(units, key=lambda u: (max(level_for_score(u[0]), u[1].floor), u[0]))
            shown = [u for s, u in units if s >= MEDIUM_AT or u.floor > ThreatLevel.LOW] or [best]
            merged = _Scan(floor=max(u.floor for _, u in units))
            for u in shown:
                merged.add(list(u.rules.values()))
                merged.extra.update(u.extra)
                merged.decoded |= u.decoded
            merged.decoded |= any(u.decoded for _, u in units)
        floor = merged.floor
        if truncated:
            merged.mark("input_too_large", "input_too_large", 0.0)
            floor = max(floor, cfg.oversize_level)
        level = max(level_for_score(score), floor)
        by_check: dict[str, float] = {}
        for rule in merged.rules.values():
            by_check[rule.check] = by_check.get(rule.check, 0.0) + rule.weight
        for check, weight in merged.extra.values():
            by_check[check] = by_check.get(check, 0.0) + weight
        checks = tuple(sorted(by_check, key=lambda c: (-by_check[c], c)))
        names = tuple(sorted(set(merged.rules) | set(merged.extra)))
        return Verdict(
            level=level,
            checks=checks,
            score=float(score),
            decoded=merged.decoded,
            truncated=truncated,
            rules=names,
        )

    def _match(
        self, canon: str, state: _Scan | None = None, where: dict[str, list[int]] | None = None
    ) -> tuple[list[Rule], list[str]]:
        """Return the rules a canonical text fires, and its words (positions go to state).

        A long text is matched by the LongMatcher, given its anchor positions if known.
        """
        if len(canon) > LONG:
            found = self._long.match(canon, where)
            if state is not None:
                for rule, places in found:
                    if rule.name not in state.rules:
                        state.places[rule.name] = places
            return [rule for rule, _ in found], []
        toks = words(canon)
        keys = {t[:KEY_LEN] for t in toks}
        return self._rules.match(keys, canon), toks

    def _directives(self, canon: str, where: dict[str, list[int]] | None) -> int:
        """Count second-person commands; in a long text only at their anchor words.

        Same count as _DIRECTIVE.findall: matches start at words and do not overlap.
        """
        if where is None:
            return len(_DIRECTIVE.findall(canon))
        starts = sorted(s for k in _DIRECTIVE_KEYS for s in where.get(k, ()))
        n, end = 0, -1
        match = _DIRECTIVE_AT.match
        for s in starts:
            if s >= end and (m := match(canon, s)) is not None:
                n += 1
                end = m.end()
        return n

    def _window(self, text: str, depth: int, state: _Scan) -> None:
        """Scan one bounded piece of text (or a decoded payload) into state."""
        canon, hidden, tags = canonical(text)
        where = self._long.positions(canon) if len(canon) > LONG else None
        hits, toks = self._match(canon, state, where)
        state.add(hits)
        for name, regex, level in self._custom:
            if regex.search(canon) or regex.search(text):
                state.mark(f"custom:{name}", "custom", 0.0)
                state.floor = max(state.floor, level)
        if (
            len(canon) >= DIRECTIVE_MIN_LEN
        ):  # a text dense with commands to "you" reads like a prompt
            n = self._directives(canon, where)
            if n >= DIRECTIVES and n * DIRECTIVE_SPACING >= len(canon):
                state.mark("roleplay:directives", "roleplay", 1.0)
        if tags:
            state.mark("obfuscation:tag-characters", "obfuscation", 4.0)
        if hidden >= 3:
            heavy = hidden >= 8 and hidden * 10 >= len(canon)
            state.mark("obfuscation:invisible", "obfuscation", 2.0 if heavy else 1.0)
        sig = signals(canon)
        if sig.mixed_script:
            state.mark(
                "obfuscation:mixed-script", "obfuscation", 2.0 if sig.mixed_script > 2 else 1.0
            )
        readings = variants(canon, sig, self._long.index)
        readings += self._rotated(canon, toks, where)
        for trick, reading in readings:
            if trick == "squashed":
                if _SQUASHED.search(reading):
                    state.mark("obfuscation:spacing", "obfuscation", 4.0)
                continue
            found, _ = self._match(reading)
            if state.add(found):
                state.mark(f"obfuscation:{trick}", "obfuscation", TRICK_WEIGHT)
        if depth < self.config.max_decode_depth and state.budget > 0:
            self._decode(visible(text) if hidden or tags else text, depth, state)

    def _rotated(
        self, canon: str, toks: list[str], where: dict[str, list[int]] | None = None
    ) -> list[tuple[str, str]]:
        """Return rot13 and reversed readings when the words look like rotated attack words.

        In a long text, only on the lines with a hint (where: its anchor positions, which
        tell at once whether a hint word occurs at all).
        """
        out: list[tuple[str, str]] = []
        if len(canon) > LONG:  # chance overlaps are likely: read only lines with a hint
            rot_word = where is None or not _ROT_KEYS.isdisjoint(where)
            rev_word = where is None or not _REV_KEYS.isdisjoint(where)
            if rot_word and ("rot13" in canon or "rot-13" in canon or "caesar" in canon):
                part = suspect_lines(canon, _ROT_HINT)
                if part:
                    out.append(("rot13", rot13(part)))
            if rev_word and ("backward" in canon or "reversed" in canon or "in reverse" in canon):
                part = suspect_lines(canon, _REV_HINT)
                if part:
                    out.append(("reversed", reverse_text(part)))
            return out
        rot = {t[:KEY_LEN] for t in toks if len(t) >= KEY_LEN}
        if len(rot & self._rot_keys) >= 2 or ("rot" in canon and _ROT_HINT.search(canon)):
            out.append(("rot13", rot13(canon)))
        rev = {t[-KEY_LEN:] for t in toks if len(t) >= KEY_LEN}
        hint = ("back" in canon or "revers" in canon) and _REV_HINT.search(canon)
        if len(rev & self._rev_keys) >= 2 or hint:
            out.append(("reversed", reverse_text(canon)))
        return out

    def _decode(self, text: str, depth: int, state: _Scan) -> None:
        """Scan each decodable payload in text, bounded by the decode budget."""
        for kind, payload in decode_payloads(text):
            if state.budget <= 0:
                return
            payload = payload[: state.budget]
            state.budget -= len(payload)
            state.decoded = True
            sub = _Scan(budget=state.budget)
            self._window(payload, depth + 1, sub)
            state.budget = min(state.budget, sub.budget)
            state.decoded = True
            if sub.score() >= MEDIUM_AT or sub.floor > ThreatLevel.LOW:
                state.add(list(sub.rules.values()))
                for name, (check, weight) in sub.extra.items():
                    state.mark(name, check, weight)
                state.floor = max(state.floor, sub.floor)
                state.mark(f"obfuscation:{kind}", "obfuscation", OBFUSCATION_BUMP)
