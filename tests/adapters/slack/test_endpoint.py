"""The pure signature check of HTTP mode, table-driven against Slack's signing scheme."""

from __future__ import annotations

import pytest
from slack_sdk.signature import SignatureVerifier

from adapters.slack.endpoint import signature_problem
from tests.fakes.slack_api import FakeSlack

NOW = 1_800_000_000.0
BODY = b'{"type":"event_callback"}'
FAKE = FakeSlack(signing_secret="s3cret")
VERIFIER = SignatureVerifier("s3cret")


def _headers(ts: str, sig: str | None = None, body: bytes = BODY) -> dict[str, str]:
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": FAKE.sign(body, ts) if sig is None else sig,
    }


CASES = [
    ("valid", _headers(str(int(NOW))), None),
    ("edge-of-window", _headers(str(int(NOW) - 300)), None),
    ("stale", _headers(str(int(NOW) - 301)), "stale_timestamp"),
    ("future", _headers(str(int(NOW) + 301)), "stale_timestamp"),
    ("not-a-number", _headers("12ab"), "bad_timestamp"),
    ("wrong-signature", _headers(str(int(NOW)), sig="v0=" + "0" * 64), "bad_signature"),
    ("other-body", _headers(str(int(NOW)), body=b"{}"), "bad_signature"),
    ("no-signature", {"X-Slack-Request-Timestamp": str(int(NOW))}, "unsigned"),
    ("no-timestamp", {"X-Slack-Signature": "v0=abc"}, "unsigned"),
    ("nothing", {}, "unsigned"),
]


@pytest.mark.parametrize(
    ("headers", "problem"), [(h, p) for _, h, p in CASES], ids=[i for i, _, _ in CASES]
)
def test_signature_problem(headers: dict[str, str], problem: str | None) -> None:
    """Only a correctly signed body with a timestamp within 300 s passes."""
    assert signature_problem(BODY, headers, verifier=VERIFIER, now=NOW) == problem
