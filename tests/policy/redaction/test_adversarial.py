"""Adversarial 1 MiB inputs must finish (pytest-timeout guards the time) and stay correct."""

from __future__ import annotations

import random
import string

import pytest

from policy.redaction import Redactor

MIB = 1 << 20
R = Redactor()

INPUTS = [
    ("run of a", "a" * MIB),
    ("run of equals", "=" * MIB),
    ("base64-ish", ("QWxhZGRpbjpvcGVuIHNlc2FtZQ+/" * (MIB // 28 + 1))[:MIB]),
    ("digits", "7" * MIB),
    ("digit groups", ("4111 " * (MIB // 5 + 1))[:MIB]),
    ("at signs", "@" * MIB),
    ("email-ish", ("a.b@c." * (MIB // 6 + 1))[:MIB]),
    ("nested quotes", ("\"'`" * (MIB // 3 + 1))[:MIB]),
    ("key equals", ("token=" * (MIB // 6 + 1))[:MIB]),
    ("password colons", ("password:" * (MIB // 9 + 1))[:MIB]),
    ("jwt prefix", ("eyJ." * (MIB // 4 + 1))[:MIB]),
    ("pem header", ("-----BEGIN PRIVATE KEY-----\n" * (MIB // 28 + 1))[:MIB]),
    ("colons and hex", ("a:" * (MIB // 2 + 1))[:MIB]),
    ("dots and digits", ("1." * (MIB // 2 + 1))[:MIB]),
    ("url-ish", ("http://a:b@" * (MIB // 11 + 1))[:MIB]),
    ("slack prefix", ("xoxb-1" * (MIB // 6 + 1))[:MIB]),
    ("mid-token triggers", ("a.acc.eyJT3BlbkFJ:A" * (MIB // 19 + 1))[:MIB]),
    ("short triggers", ("s.pat_k_b_|" * (MIB // 11 + 1))[:MIB]),
    ("trigger soup", ("ghp_xoxb-AKIAsk-ant-glpat-npm_hf_sig=" * (MIB // 37 + 1))[:MIB]),
]


@pytest.mark.parametrize("text", [c[1] for c in INPUTS], ids=[c[0] for c in INPUTS])
def test_adversarial_input_completes(text: str) -> None:
    """Each pathological input is processed in bounded time and keeps its length bounded."""
    result = R.redact(text)
    assert isinstance(result.text, str)
    assert len(result.findings) <= len(text)
    for finding in result.findings:
        assert 0 <= finding.start < finding.end <= len(text)


def test_many_distinct_assignments_complete() -> None:
    """1 MiB of distinct `token=<random>` pairs (no repeated values to memoise) completes."""
    rng = random.Random(1)
    alphabet = string.ascii_letters + string.digits
    parts = []
    size = 0
    while size < MIB:
        part = "token=" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(4, 20)))
        parts.append(part)
        size += len(part)
    result = R.redact("".join(parts))
    assert result.findings


def test_secret_after_adversarial_prefix_is_still_found() -> None:
    """A real secret at the end of a long pathological run is still redacted."""
    text = "=" * MIB + " ghp_wnhfq1g8i01xyjcei3hxqqstls4hwgb21n6x"
    assert R.redact_text(text).endswith("[REDACTED:github_token]")
