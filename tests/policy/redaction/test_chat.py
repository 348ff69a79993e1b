"""Table-driven tests for chat platform credentials (Slack, Telegram, Discord, Teams)."""

from __future__ import annotations

import pytest

from policy.redaction import RedactionConfig, Redactor

R = Redactor(RedactionConfig(pii=frozenset()))

FOUND = [
    (
        "slack bot token",
        "SLACK=xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD",
        "GkwFDQoH",
        "slack_token",
    ),
    (
        "slack user token",
        "xoxp-41684372915-1320496754-45609968301-e708ba56e1517a99f6b5fb07349476ef",
        "e708ba56",
        "slack_token",
    ),
    (
        "slack legacy token",
        "xoxs-416843729158-132049654-5609968301-e708ba56e1",
        "e708ba56e1",
        "slack_token",
    ),
    (
        "slack webhook",
        "POST https://hooks.slack.com/services/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",
        "bJtrpFi1fO1JMCcwLx8uZyAg",
        "slack_webhook",
    ),
    (
        "telegram bot token",
        "bot 7213808860:AAH1bjqpKKW3maRSPAxzIU-0v6xNuq2-NjM ok",
        "AAH1bjqp",
        "telegram_bot_token",
    ),
    (
        "discord bot token",
        "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
        "ZnCjm1XV",
        "discord_token",
    ),
    (
        "teams webhook",
        "https://acme.webhook.office.com/webhookb2/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab@aa/IncomingWebhook/0123456789abcdef/xyz",
        "IncomingWebhook",
        "teams_webhook",
    ),
]

KEPT = [
    ("masked slack token", "xoxb-xxxxxxxxx-xxxxxxxxxx-xxxxxxxxxxxx"),
    ("slack token name only", "xoxb-Slack_BOT_TOKEN"),
    ("xoxo in a url", "https://indieweb.org/images/3/35/2018-250-xoxo-indieweb-1.jpg"),
    ("aws arn", "arn:aws:sns:aaa:111122223333:aaaaaaaaaaaaaaaaaaassssssddddddddddddd"),
]


@pytest.mark.parametrize(
    ("text", "secret", "kind"), [c[1:] for c in FOUND], ids=[c[0] for c in FOUND]
)
def test_chat_credentials_are_redacted(text: str, secret: str, kind: str) -> None:
    """Every chat platform credential is replaced and typed."""
    result = R.redact(text)
    assert secret not in result.text
    assert kind in result.counts


@pytest.mark.parametrize("text", [c[1] for c in KEPT], ids=[c[0] for c in KEPT])
def test_chat_look_alikes_are_kept(text: str) -> None:
    """Masks, names and glued look-alikes stay as they are."""
    assert R.redact_text(text) == text
