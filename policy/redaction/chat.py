"""Chat platform credentials: Slack tokens and webhooks, Telegram bot tokens, Discord, Teams."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import RuleSet, Span, rule
from .entropy import is_masked

__all__ = ["CHAT", "discord_tokens"]

_B = r"(?<![A-Za-z0-9_])"


def _slack_real(value: str) -> bool:
    parts = value.split("-")
    digits = sum(ch.isdigit() for ch in value)
    body = "".join(parts[1:])
    return digits >= 6 and not is_masked(body) and "#" not in value


_DISCORD_TAIL = re.compile(r"\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}(?![\w-])")
_DISCORD_HEAD = re.compile(r"[MNO][A-Za-z0-9_-]{23,25}")
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def discord_tokens(text: str, lowered: str) -> Iterator[Span]:
    """Discord bot tokens (`<base64 user id>.<timestamp>.<hmac>`), found from their dotted tail."""
    for tail in _DISCORD_TAIL.finditer(text):
        end = tail.start()
        start = end
        floor = max(0, end - 26)
        while start > floor and text[start - 1] in _TOKEN_CHARS:
            start -= 1
        if start > 0 and text[start - 1] in _TOKEN_CHARS:
            continue
        if _DISCORD_HEAD.fullmatch(text, start, end):
            yield (start, tail.end(), "discord_token")


CHAT = RuleSet(
    [
        rule(
            "slack_token",
            _B + r"xox[bpaers]-\d{8,14}-\d{8,14}(?:-\d{8,14})?-[A-Za-z0-9]{24,64}(?![\w-])",
            "xox",
            check=_slack_real,
            nocase=True,
        ),
        rule(
            "slack_token",
            _B + r"xox[bpaors]-\d{8,14}(?:-[0-9A-Za-z]{4,64}){1,4}(?![\w-])",
            "xox",
            check=lambda v: _slack_real(v) and len(v) >= 30,
            nocase=True,
        ),
        rule(
            "slack_token",
            _B + r"xox[ar]-[A-Za-z0-9]{1,2}-[A-Za-z0-9-]{20,200}(?![\w-])",
            "xox",
            check=_slack_real,
            nocase=True,
        ),
        rule(
            "slack_token",
            _B + r"xoxe\.xox[bp]-\d-[A-Z0-9]{150,170}(?![\w-])",
            "xoxe.",
            nocase=True,
        ),
        rule(
            "slack_token",
            _B + r"xox[ar]-(?:\d-)?[0-9a-zA-Z]{8,48}(?![\w-])",
            "xox",
            check=lambda v: sum(c.isdigit() for c in v) >= 3 and not is_masked(v[5:]),
            nocase=True,
        ),
        rule("slack_token", _B + r"xoxe-\d-[A-Z0-9]{140,150}(?![\w-])", "xoxe-", nocase=True),
        rule(
            "slack_token",
            _B + r"xapp-\d-[A-Z0-9]{6,16}-\d{6,16}-[a-z0-9]{40,80}(?![\w-])",
            "xapp-",
            nocase=True,
        ),
        rule(
            "slack_webhook",
            r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<v>[A-Za-z0-9+/_]{20,200})",
            "hooks.slack.com",
            group="v",
        ),
        rule(
            "telegram_bot_token",
            r":(?<=\d{5}:)(?P<v>A[\w-]{34})(?![\w-])",
            ":A",
            group="v",
            check=lambda v: not is_masked(v) and any(c.isdigit() or c in "-_" for c in v),
        ),
        rule(
            "teams_webhook",
            r"https://[a-z0-9-]+\.webhook\.office\.com/webhook(?:b2)?/(?P<v>[^\s\"'<>]{20,400})",
            "webhook.office.com",
            group="v",
        ),
        rule(
            "discord_webhook",
            r"discord(?:app)?\.com/api/webhooks/(?P<v>\d{5,30}/[\w-]{20,100})",
            "/api/webhooks/",
            group="v",
        ),
    ]
)
