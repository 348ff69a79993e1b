"""Table-driven tests for cloud provider credential formats."""

from __future__ import annotations

import pytest

from policy.redaction import RedactionConfig, Redactor

R = Redactor(RedactionConfig(pii=frozenset()))

FOUND = [
    ("aws access key id", "key AKIALALEMEL33243OLIB end", "AKIALALEMEL33243OLIB", "aws_access_key"),
    ("aws session key", "ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A", "aws_access_key"),
    (
        "aws secret access key",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9r3Kx2Lm",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9r3Kx2Lm",
        None,
    ),
    (
        "gcp api key",
        "url?key=AIza9cG1xIXyY4-qKXTSlXYmE3sCmSo1KaLEQOW",
        "AIza9cG1xIXyY4",
        "gcp_api_key",
    ),
    (
        "azure client secret",
        "client_secret=bP88Q~rcBcYjzzOhg1Hnn76Wm3jGgakZiZ.8vMgR",
        "rcBcYjzzOhg1Hnn76Wm3",
        None,
    ),
    (
        "azure storage account key",
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu592euJv2wYUtBlV8z+qnlcNQSnIYVTkLWntUO1F8j8rQ==;",
        "lJzRc1YdHaAA2KCNJJ1tkYwF",
        None,
    ),
    (
        "alibaba access key",
        "id LTAI5tGk8JvX2mQ9wRt7YpZa",
        "LTAI5tGk8JvX2mQ9wRt7YpZa",
        "alibaba_access_key",
    ),
    (
        "digitalocean token",
        "dop_v1_" + "a3f1" * 16,
        "a3f1a3f1",
        "digitalocean_token",
    ),
]

KEPT = [
    ("masked aws key", "key = AKIAXXXXXXXXXXXXXXXX"),
    ("documentation aws key", "aws_access_key: AKIAIOSFODNN7EXAMPLE"),
    ("aws prefix inside a word", "TODAYINASIAASACKOFRICEFELLOVER"),
    ("gcp placeholder", 'apiKey: "AIzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"'),
    ("tilde runs", "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~"),
]


@pytest.mark.parametrize(
    ("text", "secret", "kind"), [c[1:] for c in FOUND], ids=[c[0] for c in FOUND]
)
def test_cloud_credentials_are_redacted(text: str, secret: str, kind: str | None) -> None:
    """Every cloud credential format is replaced and typed."""
    result = R.redact(text)
    assert secret not in result.text
    if kind is not None:
        assert kind in result.counts


@pytest.mark.parametrize("text", [c[1] for c in KEPT], ids=[c[0] for c in KEPT])
def test_cloud_look_alikes_are_kept(text: str) -> None:
    """Masks, documentation keys and look-alikes stay as they are."""
    assert R.redact_text(text) == text
