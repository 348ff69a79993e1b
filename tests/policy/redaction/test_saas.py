"""Table-driven tests for vendor-prefixed payment, AI and SaaS API keys."""

from __future__ import annotations

import pytest

from policy.redaction import RedactionConfig, Redactor

R = Redactor(RedactionConfig(pii=frozenset()))

FOUND = [
    ("stripe secret key", "sk_live_ReTllpYQYfIZu2Jnf2lAPFjD", "ReTllpYQ", "stripe_key"),
    ("stripe restricted key", "rk_live_5TcWfjKmJgpql9hjpRnwRXbT", "5TcWfjKm", "stripe_key"),
    ("twilio api key", "SK" + "0123456789abcdef" * 2, "0123456789abcdef", "twilio_api_key"),
    (
        "sendgrid",
        "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",
        "ngeVfQFY",
        "sendgrid_api_key",
    ),
    (
        "openai",
        "sk-proj-Xi8tdMjHV6pmbBbwilTeT3BlbkFJ3UDnpdEwNNm6wVBpYM0o",
        "Xi8tdMjH",
        "openai_api_key",
    ),
    (
        "anthropic",
        "sk-ant-api03-" + "a1b2c3d4e5f6g7h8i9j0" * 4 + "k1l2m3n-_o5p6" + "AA",
        "a1b2c3d4",
        "anthropic_api_key",
    ),
    ("mailchimp", "key 343ea45721923ed956e2b38c31db76aa-us30", "343ea457", "mailchimp_api_key"),
    ("huggingface", "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "AbCdEfGh", "huggingface_token"),
    ("shopify", "shpat_" + "0123456789abcdef" * 2, "0123456789abcdef", "shopify_token"),
    (
        "age secret key",
        "AGE-SECRET-KEY-1" + ("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" * 2)[:58],
        "QPZRY9X8",
        "age_secret_key",
    ),
    (
        "facebook app token",
        "fb 1308742762612587|rhoK1cbv0DOU_RTX_87O4MkX7AI",
        "rhoK1cbv",
        "facebook_token",
    ),
    ("vault legacy token", "VAULT_ADDR=x s.ZC9Ecf4M5g9o34Q6RkzGsj0z", "ZC9Ecf4M", "vault_token"),
    (
        "sidekiq credentials",
        "export BUNDLE_GEMS__CONTRIBSYS__COM=cafebabe:deadbeef",
        "cafebabe:deadbeef",
        "sidekiq_secret",
    ),
]

KEPT = [
    ("publishable stripe key", "pk_live_j5krY8XTgIcDaHDb3YrsAfCl"),
    ("empty stripe prefix", "sk_live_"),
    ("sentence ending in s.", "see the docs.AcceptanceTimeoutSeconds and items.makeKubeConfig"),
    ("masked huggingface token", "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    (
        "perplexity placeholder",
        "PERPLEXITY_API_KEY=pplx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ),
    (
        "file name with ico prefix",
        "http://x.example/video_box.ico-7a388b69018576d24b59331fd60aab0c.png",
    ),
]


@pytest.mark.parametrize(
    ("text", "secret", "kind"), [c[1:] for c in FOUND], ids=[c[0] for c in FOUND]
)
def test_saas_keys_are_redacted(text: str, secret: str, kind: str) -> None:
    """Every vendor-prefixed key is replaced and typed."""
    result = R.redact(text)
    assert secret not in result.text
    assert kind in result.counts


@pytest.mark.parametrize("text", [c[1] for c in KEPT], ids=[c[0] for c in KEPT])
def test_saas_look_alikes_are_kept(text: str) -> None:
    """Public keys, bare prefixes and masks stay as they are."""
    assert R.redact_text(text) == text
